"""`GET /api/invoices/{id}/export?format=json|ubl|cii` against the real store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from contracts import EInvoiceInfo, Evidence, Extraction, Invoice, ValidationReport
from services.extractor.einvoice.read import read_einvoice
from services.extractor.einvoice.standard import schematron_issues, xsd_issues
from services.extractor.einvoice.xml import parse_einvoice
from testkit.einvoices import XRECHNUNG, sample_credit_note, sample_invoice
from tests.gateway.store_stack import AS_A, KEYS, Stack, error_of, store_stack


@pytest.fixture
async def stack(private_nats_url: str, schema_dsn: str) -> AsyncIterator[Stack]:
    async with store_stack(private_nats_url, schema_dsn, api_keys=KEYS) as started:
        yield started


async def save(stack: Stack, invoice: Invoice, specification: str | None = None) -> str:
    einvoice = EInvoiceInfo(syntax="CII", specification=specification) if specification else None
    outcome = await stack.persister.repository.save_invoice(
        task_id=f"task_{uuid.uuid4().hex}",
        tenant="tenant-a",
        filename="invoice.xml",
        file_sha256=uuid.uuid4().hex * 2,
        extraction=Extraction(invoice=invoice, provider="einvoice", einvoice=einvoice),
        validation=ValidationReport(status="valid"),
        confidence_threshold=0.8,
    )
    return outcome.invoice_id


@pytest.mark.parametrize("syntax", ["ubl", "cii"])
async def test_exports_round_trip(stack: Stack, syntax: str) -> None:
    for invoice in (sample_invoice(), sample_credit_note()):
        invoice_id = await save(stack, invoice)
        response = await stack.http.get(
            f"/api/invoices/{invoice_id}/export", params={"format": syntax}, headers=AS_A
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        parsed = parse_einvoice(response.content)
        assert read_einvoice(parsed).invoice == invoice
        assert xsd_issues(parsed) == []
        assert [i.code for i in schematron_issues(parsed) if i.severity == "error"] == []


async def test_json_export_is_the_saved_invoice(stack: Stack) -> None:
    invoice_id = await save(stack, sample_invoice())
    url = f"/api/invoices/{invoice_id}/export"
    response = await stack.http.get(url, params={"format": "json"}, headers=AS_A)
    assert response.status_code == 200
    assert Invoice.model_validate(response.json()["invoice"]) == sample_invoice()


async def test_missing_fields_are_422_not_exportable(stack: Stack) -> None:
    invoice_id = await save(stack, sample_invoice(customer={"name": "Kunde AG"}, due_date=None))
    url = f"/api/invoices/{invoice_id}/export"
    response = await stack.http.get(url, params={"format": "ubl"}, headers=AS_A)
    assert error_of(response) == (422, "not_exportable")
    assert response.json()["error"]["missing"] == ["customer.address"]
    wrong = await stack.http.get(url, params={"format": "pdf"}, headers=AS_A)
    assert wrong.status_code == 422


async def test_the_specification_read_is_the_one_exported(stack: Stack) -> None:
    invoice_id = await save(stack, sample_invoice(), XRECHNUNG)
    saved = (await stack.http.get(f"/api/invoices/{invoice_id}", headers=AS_A)).json()
    assert saved["einvoice"]["specification"] == XRECHNUNG
    for syntax in ("ubl", "cii"):
        response = await stack.http.get(
            f"/api/invoices/{invoice_id}/export", params={"format": syntax}, headers=AS_A
        )
        assert read_einvoice(parse_einvoice(response.content)).specification == XRECHNUNG


async def test_a_saved_invoice_keeps_its_evidence(stack: Stack) -> None:
    outcome = await stack.persister.repository.save_invoice(
        task_id=f"task_{uuid.uuid4().hex}",
        tenant="tenant-a",
        filename="invoice.xml",
        file_sha256=uuid.uuid4().hex * 2,
        extraction=Extraction(
            invoice=sample_invoice(),
            provider="einvoice",
            evidence={"total": Evidence(page=1, bbox=None, text="/Invoice/cac:X/cbc:Y")},
        ),
        validation=ValidationReport(status="valid"),
    )
    saved = (await stack.http.get(f"/api/invoices/{outcome.invoice_id}", headers=AS_A)).json()
    assert saved["evidence"] == {"total": {"page": 1, "bbox": None, "text": "/Invoice/cac:X/cbc:Y"}}
