"""The XML against the picture: a hybrid PDF's visible layer (its text layer) must print the key
values the XML carries. A value the page does not show is an `einvoice_mismatch` error naming
the fields, so the invoice waits for a person instead of being `valid`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal

from contracts import Invoice, ValidationIssue, find_amounts

MISMATCH = "einvoice_mismatch"
UNCHECKED = "einvoice_visual_unchecked"


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def _date_forms(value: dt.date) -> tuple[str, ...]:
    d, m, y = value.day, value.month, value.year
    return (
        f"{y:04d}-{m:02d}-{d:02d}",
        f"{d:02d}.{m:02d}.{y:04d}",
        f"{d}.{m}.{y:04d}",
        f"{d:02d}/{m:02d}/{y:04d}",
        f"{m:02d}/{d:02d}/{y:04d}",
        f"{d:02d}-{m:02d}-{y:04d}",
        f"{d:02d}.{m:02d}.{y % 100:02d}",
        f"{y:04d}{m:02d}{d:02d}",
    )


def mismatched_fields(invoice: Invoice, text: str) -> list[str]:
    """The key fields whose XML value the visible text does not print."""
    squashed = _squash(text)
    amounts = set(find_amounts(text))
    fields: list[str] = []
    if invoice.invoice_number and _squash(invoice.invoice_number) not in squashed:
        fields.append("invoice_number")
    for name in ("invoice_date", "due_date"):
        value: dt.date | None = getattr(invoice, name)
        if value is not None and not any(form in squashed for form in _date_forms(value)):
            fields.append(name)
    for name in ("total", "amount_due"):
        amount: Decimal | None = getattr(invoice, name)
        # A credit note may print its amounts negative or positive.
        if amount is not None and amount not in amounts and -amount not in amounts:
            fields.append(name)
    if invoice.payment.iban and _squash(invoice.payment.iban) not in squashed:
        fields.append("payment.iban")
    return fields


def compare_with_pages(invoice: Invoice, page_texts: Sequence[str | None]) -> list[ValidationIssue]:
    text = "\n".join(t for t in page_texts if t)
    if not text.strip():
        return [
            ValidationIssue(
                code=UNCHECKED,
                field=None,
                message="The PDF has no text layer: its visible values were not compared with "
                "the embedded e-invoice.",
                severity="warning",
            )
        ]
    return [
        ValidationIssue(
            code=MISMATCH,
            field=field,
            message=f"The embedded e-invoice's {field} is not what the PDF shows.",
            severity="error",
        )
        for field in mismatched_fields(invoice, text)
    ]
