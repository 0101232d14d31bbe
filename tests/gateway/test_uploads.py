"""Reading uploads: size limit, type by content, file names."""

from __future__ import annotations

import io

import pytest
from starlette.datastructures import UploadFile

from services.gateway.errors import ApiError
from services.gateway.uploads import clean_filename, read_upload
from testkit.einvoices import einvoice_xml
from tests.gateway.conftest import PDF, PNG


def uploaded(data: bytes, name: str = "doc.bin", declare_size: bool = True) -> UploadFile:
    return UploadFile(io.BytesIO(data), size=len(data) if declare_size else None, filename=name)


async def test_types_are_recognised_by_content_not_by_name() -> None:
    upload = await read_upload(uploaded(PNG, "looks-like.pdf"), 1000)

    assert upload.content_type == "image/png"
    assert upload.filename == "looks-like.pdf"
    assert upload.data == PNG


async def test_a_file_of_another_type_is_415() -> None:
    with pytest.raises(ApiError) as raised:
        await read_upload(uploaded(b"hello, world", "invoice.pdf"), 1000)

    assert (raised.value.status, raised.value.code) == (415, "unsupported_media_type")


async def test_an_empty_file_is_415() -> None:
    with pytest.raises(ApiError) as raised:
        await read_upload(uploaded(b""), 1000)

    assert raised.value.status == 415


@pytest.mark.parametrize("declare_size", [True, False])
async def test_a_file_over_the_limit_is_413(declare_size: bool) -> None:
    with pytest.raises(ApiError) as raised:
        await read_upload(uploaded(PDF + b"x" * 100, declare_size=declare_size), len(PDF) + 99)

    assert (raised.value.status, raised.value.code) == (413, "file_too_large")


async def test_a_file_exactly_at_the_limit_is_fine() -> None:
    upload = await read_upload(uploaded(PDF), len(PDF))

    assert upload.data == PDF


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("invoice.pdf", "invoice.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\scan.png", "scan.png"),
        ("bad\x00name\n.pdf", "badname.pdf"),
        ("", "upload"),
        (None, "upload"),
        ("a" * 300, "a" * 255),
    ],
)
def test_file_names_are_cleaned(given: str | None, expected: str) -> None:
    assert clean_filename(given) == expected


async def test_e_invoice_xml_is_recognised_and_other_xml_is_415() -> None:
    xml = einvoice_xml(syntax="ubl")
    upload = await read_upload(uploaded(xml, "rechnung.txt"), len(xml))
    assert upload.content_type == "application/xml"
    with pytest.raises(ApiError) as too_large:
        await read_upload(uploaded(xml), len(xml) - 1)
    assert too_large.value.status == 413
    with pytest.raises(ApiError) as other:
        await read_upload(uploaded(b"<?xml version='1.0'?><html/>", "invoice.xml"), 1000)
    assert other.value.status == 415 and "e-invoice XML" in other.value.message
