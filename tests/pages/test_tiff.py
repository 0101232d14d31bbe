"""Counting a TIFF's pages by its own bounded walk of the IFD chain, before Pillow parses it."""

from __future__ import annotations

import struct

import pytest
from PIL import Image

from contracts import ErrorCode
from services.extractor.documents import load_document
from services.pages.render import DocumentLimits
from services.pages.tiff import tiff_page_count
from services.worker.errors import PermanentError
from testkit.documents import tiff_bytes
from testkit.hostile import tiff_frame_without_dimensions, tiff_ifd_chain, tiff_ifd_cycle

LIMITS = DocumentLimits(max_pages=3)


def corrupt(data: bytes) -> str:
    with pytest.raises(PermanentError) as caught:
        tiff_page_count(data, 10)
    assert caught.value.code == ErrorCode.CORRUPT_DOCUMENT
    return caught.value.message


@pytest.mark.parametrize("pages", [1, 2, 5])
def test_counts_the_pages_pillow_writes(pages: int) -> None:
    assert tiff_page_count(tiff_bytes(pages), 10) == pages


def test_big_endian_and_bigtiff_headers_are_read() -> None:
    # Pillow writes little-endian classic TIFF; the same one page by hand in the other forms.
    big_endian = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1) + bytes(12) + bytes(4)
    bigtiff = b"II+\x00" + struct.pack("<HHQ", 8, 0, 16) + struct.pack("<Q", 1) + bytes(20 + 8)

    assert tiff_page_count(big_endian, 10) == 1
    assert tiff_page_count(bigtiff, 10) == 1


def test_stops_one_past_the_limit_however_long_the_chain() -> None:
    assert tiff_page_count(tiff_ifd_chain(40_000), 10) == 11


def test_a_chain_that_loops_is_corrupt() -> None:
    assert "loop" in corrupt(tiff_ifd_cycle())


@pytest.mark.parametrize(
    "data",
    [
        b"II*\x00",  # no first offset
        b"II*\x00" + struct.pack("<I", 10_000),  # first page past the end
        b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 500),  # entries past the end
        b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 0) + bytes(4),  # empty IFD
        b"II*\x00" + struct.pack("<I", 0),  # no pages
        b"II\x2b\x00" + bytes(4),  # BigTIFF header cut short
        b"II\x07\x00" + bytes(12),  # an unknown version
    ],
    ids=[
        "short",
        "offset-past-end",
        "entries-past-end",
        "empty-ifd",
        "no-pages",
        "bigtiff-short",
        "version",
    ],
)
def test_garbage_is_corrupt(data: bytes) -> None:
    corrupt(data)


def test_a_long_chain_is_refused_before_pillow_opens_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def pillow(*args: object, **kwargs: object) -> Image.Image:
        raise AssertionError("Pillow was asked to open the file")

    monkeypatch.setattr(Image, "open", pillow)

    with pytest.raises(PermanentError) as caught:
        load_document(tiff_ifd_chain(40_000), LIMITS)

    assert caught.value.code == ErrorCode.TOO_MANY_PAGES
    assert caught.value.message == "the document has more than 3 pages, over the limit of 3"


def test_a_page_without_dimensions_is_corrupt_not_a_crash() -> None:
    with pytest.raises(PermanentError) as caught:
        load_document(tiff_frame_without_dimensions(), LIMITS)

    assert caught.value.code == ErrorCode.CORRUPT_DOCUMENT
    assert caught.value.message == "the image cannot be read"
