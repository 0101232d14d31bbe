"""A saved invoice's document and pages over HTTP, against the real store and blob store: the
persister and the validator in this process, on a NATS server and a PostgreSQL schema of the
test's own. (The whole pipeline, upload to pages: tests/e2e/test_documents.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from services.pages.decode_pool import DecodePool
from testkit.documents import blank_pdf, image_bytes, text_pdf
from testkit.einvoices import PEPPOL_UBL
from testkit.processes import alive
from tests.gateway.store_stack import AS_A, AS_B, KEYS, Stack, error_of, store_stack
from tests.persister.samples import REPORT, extraction, new_task_id


@pytest.fixture
async def stack(private_nats_url: str, schema_dsn: str) -> AsyncIterator[Stack]:
    async with store_stack(private_nats_url, schema_dsn, api_keys=KEYS) as started:
        yield started


async def saved(
    stack: Stack, data: bytes | None, *, sha256: str | None = None, filename: str = "doc.pdf"
) -> str:
    """An invoice saved from `data`, uploaded through the gateway as a client would (None: a
    document that was never stored, only its `sha256` is known)."""
    if data is not None:
        uploaded = await stack.http.post(
            "/api/upload", files={"file": (filename, data)}, headers=AS_A
        )
        assert uploaded.status_code == 201, uploaded.text
        sha256 = uploaded.json()["sha256"]
    outcome = await stack.persister.repository.save_invoice(
        task_id=new_task_id(),
        tenant="tenant-a",
        filename=filename,
        file_sha256=sha256,
        extraction=extraction(),
        validation=REPORT,
        confidence_threshold=0.8,
    )
    return outcome.invoice_id


def png_size(response: httpx.Response) -> tuple[int, int]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "PNG"
        return image.size


async def get(stack: Stack, path: str, if_none_match: str | None = None) -> httpx.Response:
    headers = {**AS_A, **({"If-None-Match": if_none_match} if if_none_match else {})}
    return await stack.http.get(path, headers=headers)


async def test_the_document_is_the_stored_file_with_its_type(stack: Stack) -> None:
    pdf = text_pdf([["Invoice INV-1"], ["page two"]])
    invoice_id = await saved(stack, pdf, filename="Rechnung März.pdf")

    response = await get(stack, f"/api/invoices/{invoice_id}/document")

    assert response.status_code == 200
    assert response.content == pdf
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(pdf))
    assert response.headers["etag"] == f'"{hashlib.sha256(pdf).hexdigest()}"'
    assert response.headers["cache-control"].startswith("private")
    assert response.headers["content-security-policy"] == "sandbox"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('inline; filename="Rechnung M_rz.pdf"')
    assert "filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf" in disposition
    again = await get(
        stack, f"/api/invoices/{invoice_id}/document", if_none_match=response.headers["etag"]
    )
    assert again.status_code == 304 and again.content == b""


async def test_an_xml_einvoice_is_its_document_and_has_no_pages(stack: Stack) -> None:
    invoice_id = await saved(stack, PEPPOL_UBL, filename="peppol.xml")

    document = await get(stack, f"/api/invoices/{invoice_id}/document")
    assert document.content == PEPPOL_UBL
    assert document.headers["content-type"].startswith("application/xml")
    page = await get(stack, f"/api/invoices/{invoice_id}/pages/1")
    assert error_of(page) == (404, "page_not_found")
    assert "XML" in page.json()["error"]["message"]


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (image_bytes(size=(640, 480)), (640, 480)),
        # EXIF orientation 6: stored landscape, a portrait page (as the extractor reads it).
        (image_bytes(size=(640, 480), fmt="JPEG", exif_orientation=6), (480, 640)),
        (image_bytes(size=(4000, 1000)), (1600, 400)),
        (blank_pdf(595, 842), (1131, 1600)),
        (blank_pdf(600, 300, rotate=90), (800, 1600)),
    ],
    ids=["png", "jpeg-exif", "big-png", "a4-pdf", "rotated-pdf"],
)
async def test_page_one_has_the_pages_shape_within_1600_px(
    stack: Stack, data: bytes, size: tuple[int, int]
) -> None:
    invoice_id = await saved(stack, data)

    assert png_size(await get(stack, f"/api/invoices/{invoice_id}/pages/1")) == size


async def test_no_such_page_is_a_coded_404(stack: Stack) -> None:
    invoice_id = await saved(stack, text_pdf([["one"], ["two"]]))
    url = f"/api/invoices/{invoice_id}/pages"

    assert png_size(await get(stack, f"{url}/2")) == (1131, 1600)
    past = await get(stack, f"{url}/3")
    assert error_of(past) == (404, "page_not_found")
    assert past.json()["error"]["message"] == "the document has 2 pages: there is no page 3"
    for bad in ("0", "-1", "abc", "1.5", "9999999", "%20"):
        refused = await get(stack, f"{url}/{bad}")
        assert error_of(refused) == (404, "page_not_found"), bad
        assert "numbered" in refused.json()["error"]["message"]


async def test_another_tenants_invoice_and_an_unknown_one_are_not_found(stack: Stack) -> None:
    invoice_id = await saved(stack, image_bytes())

    for path in ("document", "pages/1"):
        other = await stack.http.get(f"/api/invoices/{invoice_id}/{path}", headers=AS_B)
        assert error_of(other) == (404, "invoice_not_found"), path
        unknown = await get(stack, f"/api/invoices/inv_{'0' * 32}/{path}")
        assert error_of(unknown) == (404, "invoice_not_found"), path
        malformed = await get(stack, f"/api/invoices/nonsense/{path}")
        assert error_of(malformed) == (404, "invoice_not_found"), path
        keyless = await stack.http.get(f"/api/invoices/{invoice_id}/{path}")
        assert error_of(keyless) == (401, "unauthorized"), path


async def test_a_document_no_longer_stored_is_said_so(stack: Stack) -> None:
    invoice_id = await saved(stack, None, sha256=hashlib.sha256(b"gone").hexdigest())

    for path in ("document", "pages/1"):
        gone = await get(stack, f"/api/invoices/{invoice_id}/{path}")
        assert error_of(gone) == (404, "document_not_found"), path
        assert "no longer stored" in gone.json()["error"]["message"]


async def test_pages_are_rendered_once_and_then_cached(stack: Stack) -> None:
    invoice_id = await saved(stack, text_pdf([["one"], ["two"]]))
    renderer = stack.app.gateway.pages
    url = f"/api/invoices/{invoice_id}/pages"

    # A reviewer's browser asking for the same page twice at once: one render.
    first, second = await asyncio.gather(get(stack, f"{url}/1"), get(stack, f"{url}/1"))
    assert first.content == second.content and renderer.renders == 1
    assert (await get(stack, f"{url}/1")).content == first.content
    assert renderer.renders == 1
    await get(stack, f"{url}/2")
    assert renderer.renders == 2

    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("private")
    not_modified = await get(stack, f"{url}/1", if_none_match=f'W/"x", {etag}')
    assert not_modified.status_code == 304 and not_modified.headers["etag"] == etag
    assert renderer.renders == 2


async def test_the_decode_limits_apply(private_nats_url: str, schema_dsn: str) -> None:
    async with store_stack(
        private_nats_url, schema_dsn, api_keys=KEYS, max_image_pixels=10_000
    ) as small:
        invoice_id = await saved(small, image_bytes(size=(200, 100)))

        refused = await get(small, f"/api/invoices/{invoice_id}/pages/1")
        pool = small.app.gateway.pages.runner
        assert isinstance(pool, DecodePool)
        [child] = pool.pids  # refused in the decode process, which lives on

    assert error_of(refused) == (422, "page_not_renderable")
    assert refused.json()["error"]["message"] == (
        "page 1 cannot be rendered: the image has 200x100 pixels, over the limit of 10000"
    )
    # The gateway's shutdown ended its decode process.
    assert not alive(child)


async def test_a_page_over_its_time_budget_is_refused_and_the_gateway_goes_on(
    private_nats_url: str, schema_dsn: str
) -> None:
    # No page renders in a millisecond: the budget runs out, the decode process is killed.
    async with store_stack(
        private_nats_url, schema_dsn, api_keys=KEYS, page_render_seconds=0.001
    ) as strict:
        invoice_id = await saved(strict, blank_pdf(595, 842))
        refused = await get(strict, f"/api/invoices/{invoice_id}/pages/1")
        document = await get(strict, f"/api/invoices/{invoice_id}/document")

    assert error_of(refused) == (422, "page_not_renderable")
    assert refused.json()["error"]["message"] == (
        "page 1 cannot be rendered: decoding the document took longer than the 0.001 s allowed"
    )
    assert document.status_code == 200
