"""Sample commands for the persister tests."""

from __future__ import annotations

import uuid
from typing import Any

from contracts import (
    Extraction,
    Invoice,
    PersistInvoice,
    ProcessingOptions,
    Usage,
    ValidationReport,
)
from services.persister.repository import Repository

INVOICE: dict[str, Any] = {
    "document_type": "invoice",
    "invoice_number": "INV-42",
    "invoice_date": "2026-11-02",
    "due_date": "2026-12-02",
    "currency": "EUR",
    "vendor": {"name": "ACME GmbH", "tax_id": "DE123456789"},
    "customer": {"name": "Example Ltd"},
    "subtotal": "150.00",
    "total_tax": "28.50",
    "total": "178.50",
    "line_items": [
        {
            "description": "Widget",
            "quantity": "2",
            "unit": "pcs",
            "unit_price": "50.00",
            "tax_rate": "19",
            "amount": "100.00",
            "product_code": "W-1",
        },
        {"description": "Gadget", "quantity": "0.5", "unit_price": "100.00", "amount": "50.00"},
    ],
}

REPORT = ValidationReport.model_validate(
    {
        "status": "needs_review",
        "issues": [
            {
                "code": "low_confidence",
                "field": "vendor.name",
                "message": "Confidence 0.50 for vendor.name is below 0.80.",
                "severity": "warning",
            }
        ],
    }
)


def new_task_id() -> str:
    return f"task_{uuid.uuid4().hex}"


def extraction(**changes: Any) -> Extraction:
    return Extraction(
        invoice=Invoice.model_validate({**INVOICE, **changes}),
        confidence={"vendor.name": 0.5, "total": 0.99},
        provider="openai",
        model="gpt-test",
        usage=Usage(input_tokens=1200, output_tokens=300),
    )


def persist_command(**changes: Any) -> PersistInvoice:
    return PersistInvoice(
        task_id=new_task_id(),
        tenant="tenant-a",
        filename="invoice.pdf",
        options=ProcessingOptions(),
        extraction=extraction(**changes),
        validation=REPORT,
        sha256="cd" * 32,
    )


async def save_sample(
    repository: Repository,
    tenant: str | None = "tenant-a",
    threshold: float = 0.8,
    file_sha256: str | None = None,
    **changes: Any,
) -> str:
    """Save the sample invoice with `changes` as a new task of `tenant`, from its own file
    (`file_sha256`, else a made-up one)."""
    outcome = await repository.save_invoice(
        task_id=new_task_id(),
        tenant=tenant,
        filename="invoice.pdf",
        file_sha256=file_sha256 or uuid.uuid4().hex * 2,
        extraction=extraction(**changes),
        validation=REPORT,
        confidence_threshold=threshold,
    )
    return outcome.invoice_id
