"""Sample commands for the validator tests."""

from __future__ import annotations

import uuid
from typing import Any

from contracts import Extraction, Invoice, ProcessingOptions, Usage, ValidateInvoice

# A clean invoice: 100.00 + 20.00 tax = 120.00, one line of 2 × 50.00.
INVOICE: dict[str, Any] = {
    "document_type": "invoice",
    "invoice_number": "INV-7",
    "invoice_date": "2026-11-02",
    "due_date": "2026-12-02",
    "currency": "EUR",
    "vendor": {"name": "ACME GmbH"},
    "subtotal": "100.00",
    "total_tax": "20.00",
    "total": "120.00",
    "line_items": [
        {"description": "Widget", "quantity": "2", "unit_price": "50.00", "amount": "100.00"}
    ],
}


def new_task_id() -> str:
    return f"task_{uuid.uuid4().hex}"


def validate_command(
    *, auto_save: bool, confidence: dict[str, float] | None = None, **changes: Any
) -> ValidateInvoice:
    return ValidateInvoice(
        task_id=new_task_id(),
        tenant="tenant-a",
        filename="invoice.pdf",
        options=ProcessingOptions(auto_save=auto_save, confidence_threshold=0.8),
        extraction=Extraction(
            invoice=Invoice.model_validate({**INVOICE, **changes}),
            confidence=confidence if confidence is not None else {"total": 0.97},
            provider="local",
            usage=Usage(input_tokens=11, output_tokens=7),
        ),
        sha256="ab" * 32,
    )
