"""Evidence through the whole stack: each value's box on its page, in the completed task's
result and in the saved invoice, where the document was drawn."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pypdfium2 as pdfium
import pytest
from PIL import Image

from testkit.contract_client import Socket, trigger, upload
from testkit.documents import CANNED_PLACED, RECEIPT_LINES, assert_covers, image_bytes, placed_pdf

pytestmark = pytest.mark.e2e


async def completed(
    http: httpx.AsyncClient,
    socket: Socket,
    name: str,
    data: bytes,
    content_type: str,
    **options: str,
) -> dict[str, object]:
    blob = await upload(http, name, data, content_type)
    task = await trigger(http, blob["blob_url"], name, **options)
    await socket.join(task["task_id"], task["token"])
    final = (await socket.until_done(task["task_id"], timeout=120))[-1]
    assert final["type"] == "complete", final
    result: dict[str, object] = final["result"]  # type: ignore[assignment]
    return result


async def saved_evidence(http: httpx.AsyncClient, invoice_id: object) -> object:
    response = await http.get(f"/api/invoices/{invoice_id}")
    assert response.status_code == 200, response.text
    return response.json()["evidence"]


async def test_a_digital_pdf_through_the_model_has_each_value_boxed_where_printed(
    http: httpx.AsyncClient, socket: Socket
) -> None:
    data = placed_pdf(CANNED_PLACED)

    result = await completed(http, socket, "placed.pdf", data, "application/pdf")

    assert result["provider"] == "openai"
    evidence: dict[str, dict[str, Any]] = result["evidence"]  # type: ignore[assignment]
    assert evidence["total"]["page"] == 1 and evidence["total"]["text"] == "193.00"
    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[0].render(scale=2).to_pil()  # 2 px a point
    finally:
        pdf.close()
    assert_covers(evidence["total"]["bbox"], page, (910, 570, 1100, 610))  # at (460, 300) pt
    assert_covers(evidence["vendor.name"]["bbox"], page, (110, 90, 400, 130))  # at (60, 60) pt
    assert_covers(evidence["line_items[0].amount"]["bbox"], page, (910, 370, 1100, 410))
    assert await saved_evidence(http, result["invoice_id"]) == evidence


async def test_an_image_through_the_local_provider_has_each_value_boxed_on_its_row(
    http: httpx.AsyncClient, socket: Socket
) -> None:
    data = image_bytes(RECEIPT_LINES)  # 400 x 300 px, line i drawn at y = 10 + 26 i
    image = Image.open(io.BytesIO(data))

    result = await completed(http, socket, "receipt.png", data, "image/png", model_provider="local")

    invoice: dict[str, object] = result["invoice"]  # type: ignore[assignment]
    assert invoice["total"] == "10.00"
    evidence: dict[str, dict[str, Any]] = result["evidence"]  # type: ignore[assignment]
    assert evidence["total"]["text"] == "TOTAL RM 10.00"
    assert_covers(evidence["total"]["bbox"], image, (0, 140, 400, 165))  # line 5
    assert_covers(evidence["invoice_date"]["bbox"], image, (0, 88, 400, 113))  # line 3
    assert "line_items[0].amount" in evidence
    assert await saved_evidence(http, result["invoice_id"]) == evidence
