"""Structured e-invoices through the whole stack: POST /api/invoices with an XML file and with a
hybrid PDF whose picture disagrees, to `complete`, then exported in both syntaxes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from testkit.contract_client import Socket, assert_contiguous
from testkit.einvoices import einvoice_xml, hybrid_pdf, sample_invoice, visible_lines

pytestmark = pytest.mark.e2e


async def submit(
    http: httpx.AsyncClient, socket: Socket, name: str, data: bytes, mime: str
) -> dict[str, Any]:
    # The options name the openai provider: an e-invoice is read from its XML all the same.
    options = json.dumps({"model_provider": "openai"})
    response = await http.post(
        "/api/invoices", files={"file": (name, data, mime)}, data={"options": options}
    )
    assert response.status_code == 202, response.text
    [task] = response.json()["tasks"]
    await socket.join(task["task_id"], task["token"])
    updates = await socket.until_done(task["task_id"])
    assert_contiguous(updates)
    assert updates[-1]["type"] == "complete", updates[-1]
    result: dict[str, Any] = updates[-1]["result"]
    return result


async def test_an_xml_invoice_completes_exactly_and_exports(
    http: httpx.AsyncClient, socket: Socket
) -> None:
    result = await submit(http, socket, "invoice.xml", einvoice_xml(syntax="ubl"), "text/plain")

    assert result["provider"] == "einvoice" and result["usage"]["input_tokens"] == 0
    assert result["invoice"] == sample_invoice().model_dump(mode="json")
    assert result["einvoice"]["syntax"] == "UBL" and result["einvoice"]["embedded"] is False
    assert result["validation"]["status"] in ("valid", "needs_review")
    assert result["saved"] is True
    assert result["evidence"]["total"] == {
        "page": 1,
        "bbox": None,
        "text": "/Invoice/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount",
    }
    saved = (await http.get(f"/api/invoices/{result['invoice_id']}")).json()
    assert saved["evidence"] == result["evidence"] and saved["einvoice"] == result["einvoice"]
    for syntax in ("ubl", "cii"):
        exported = await http.get(
            f"/api/invoices/{result['invoice_id']}/export", params={"format": syntax}
        )
        assert exported.status_code == 200, exported.text
        assert exported.content.startswith(b"<?xml")


async def test_a_hybrid_pdf_whose_picture_disagrees_waits_for_a_person(
    http: httpx.AsyncClient, socket: Socket
) -> None:
    shown = sample_invoice(invoice_number="RE-2026-0999", total="400.00", amount_due="400.00")
    pdf = hybrid_pdf(einvoice_xml(syntax="cii"), visible_lines(shown))

    result = await submit(http, socket, "rechnung.pdf", pdf, "application/pdf")

    assert result["provider"] == "einvoice" and result["einvoice"]["embedded"] is True
    assert result["invoice"]["total"] == "339.05"
    mismatched = [
        issue["field"]
        for issue in result["validation"]["issues"]
        if issue["code"] == "einvoice_mismatch"
    ]
    assert mismatched == ["invoice_number", "total", "amount_due"]
    assert result["validation"]["status"] == "invalid"


async def test_broken_xml_ends_with_invalid_einvoice(
    http: httpx.AsyncClient, socket: Socket
) -> None:
    data = einvoice_xml(syntax="cii")[:700]
    response = await http.post("/api/invoices", files={"file": ("x.xml", data, "text/xml")})
    assert response.status_code == 202, response.text
    [task] = response.json()["tasks"]
    await socket.join(task["task_id"], task["token"])
    updates = await socket.until_done(task["task_id"])
    assert updates[-1]["type"] == "error"
    assert updates[-1]["error"]["code"] == "invalid_einvoice"


async def test_other_xml_is_refused_at_upload(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/invoices", files={"file": ("n.xml", b"<note/>", "text/xml")})
    assert response.status_code == 415
