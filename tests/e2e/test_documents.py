"""Upload to saved invoice to its document and pages, through the whole stack (separate
processes, real NATS and PostgreSQL, the fake model), with API keys on."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable

import httpx
import pypdfium2 as pdfium
import pytest
from PIL import Image

from contracts.media import PDF, SNIFF_BYTES, sniff_media_type
from services.extractor.documents import load_document
from services.pages.render import DocumentLimits
from testkit.contract_client import Socket, trigger, upload
from testkit.documents import image_bytes, scanned_pdf
from testkit.stack import Stack
from tests.e2e.documents import INVOICE_LINES, invoice_png, text_pdf
from tests.fakes.asgi import Receive, Scope, Send, respond, serving

pytestmark = pytest.mark.e2e

KEYS = "key-a:tenant-a,key-b:tenant-b"
AS_A = {"Authorization": "Bearer key-a"}
AS_B = {"Authorization": "Bearer key-b"}

DOCUMENTS = {
    "invoice.png": invoice_png("png"),
    # Stored landscape with EXIF "rotate 90° to view": the extractor reads a portrait page.
    "rotated.jpg": image_bytes(INVOICE_LINES, size=(800, 600), fmt="JPEG", exif_orientation=6),
    "one-page.pdf": text_pdf(),
    "two-pages.pdf": scanned_pdf(pages=2),
}


@pytest.fixture
def stack(make_stack: Callable[..., Stack], model_url: str) -> Stack:
    # The extractor may fetch from this machine's test server (the external blob_url case).
    return make_stack(
        model_url, INVOICEFLOW_API_KEYS=KEYS, INVOICEFLOW_FETCH_ALLOWED_HOSTS="127.0.0.1"
    )


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30, headers=AS_A) as client:
        yield client


def shapes_the_extractor_saw(data: bytes) -> list[float]:
    """Width / height of each page as the extractor read it: its image, or for a page read from
    its text layer, the page's size as PDFium reports it."""
    pages = load_document(data, DocumentLimits()).pages
    shapes = []
    for page in pages:
        if page.image is not None:
            shapes.append(page.image.width / page.image.height)
        else:
            assert sniff_media_type(data[:SNIFF_BYTES]) == PDF
            pdf = pdfium.PdfDocument(data)
            width, height = pdf[page.number - 1].get_size()
            pdf.close()
            shapes.append(width / height)
    return shapes


async def saved_invoice(
    http: httpx.AsyncClient, socket: Socket, blob_url: str, filename: str
) -> str:
    task = await trigger(http, blob_url, filename)
    await socket.join(task["task_id"], task["token"])
    final = (await socket.until_done(task["task_id"]))[-1]
    assert final["type"] == "complete", final
    assert final["result"]["saved"] is True
    invoice_id: str = final["result"]["invoice_id"]
    return invoice_id


async def test_a_saved_invoice_has_its_document_and_the_pages_the_extractor_saw(
    http: httpx.AsyncClient, socket: Socket
) -> None:
    for filename, data in DOCUMENTS.items():
        blob = await upload(http, filename, data, "application/octet-stream")
        invoice_id = await saved_invoice(http, socket, blob["blob_url"], filename)
        base = f"/api/invoices/{invoice_id}"

        document = await http.get(f"{base}/document")
        assert document.status_code == 200, (filename, document.text)
        assert document.content == data, filename
        assert document.headers["content-type"] == blob["content_type"], filename

        shapes = shapes_the_extractor_saw(data)
        for number, shape in enumerate(shapes, start=1):
            page = await http.get(f"{base}/pages/{number}")
            assert page.status_code == 200, (filename, number, page.text)
            assert page.headers["content-type"] == "image/png"
            with Image.open(io.BytesIO(page.content)) as image:
                assert image.format == "PNG" and max(image.size) <= 1600
                # The same page, scaled: equal shapes but for a pixel's rounding.
                tolerance = 1.5 / min(image.size)
                assert image.width / image.height == pytest.approx(shape, rel=tolerance)
        past = await http.get(f"{base}/pages/{len(shapes) + 1}")
        assert (past.status_code, past.json()["error"]["code"]) == (404, "page_not_found")

        for path in ("document", "pages/1"):
            other = await http.get(f"{base}/{path}", headers=AS_B)
            assert other.status_code == 404
            assert other.json()["error"]["code"] == "invoice_not_found"

    assert shapes_the_extractor_saw(DOCUMENTS["rotated.jpg"]) == [600 / 800]
    assert len(shapes_the_extractor_saw(DOCUMENTS["two-pages.pdf"])) == 2
    unknown = await http.get(f"/api/invoices/inv_{'0' * 32}/pages/1")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "invoice_not_found")


async def test_a_document_fetched_from_elsewhere_is_kept_for_its_invoice(
    http: httpx.AsyncClient, socket: Socket
) -> None:
    pdf = scanned_pdf()

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, 200, pdf, content_type="application/pdf")

    async with serving(serve) as port:
        url = f"http://127.0.0.1:{port}/elsewhere.pdf"
        invoice_id = await saved_invoice(http, socket, url, "elsewhere.pdf")

    # The other server is gone: the document comes from the blob store.
    document = await http.get(f"/api/invoices/{invoice_id}/document")
    assert document.status_code == 200 and document.content == pdf
    assert document.headers["content-type"] == "application/pdf"
    page = await http.get(f"/api/invoices/{invoice_id}/pages/1")
    assert page.status_code == 200 and page.headers["content-type"] == "image/png"
