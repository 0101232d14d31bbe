"""The XML against the visible page."""

from __future__ import annotations

from decimal import Decimal

from services.extractor.einvoice.compare import compare_with_pages, mismatched_fields
from testkit.einvoices import sample_invoice, visible_lines


def test_the_same_values_agree() -> None:
    invoice = sample_invoice()
    assert mismatched_fields(invoice, "\n".join(visible_lines(invoice))) == []


def test_planted_differences_are_named() -> None:
    invoice = sample_invoice()
    shown = sample_invoice(
        invoice_number="RE-2026-0043",
        total=Decimal("339.50"),
        amount_due=Decimal("339.50"),
        payment={"iban": "DE02120300000000202051"},
    )
    issues = compare_with_pages(invoice, ["\n".join(visible_lines(shown))])
    assert [(i.code, i.field, i.severity) for i in issues] == [
        ("einvoice_mismatch", "invoice_number", "error"),
        ("einvoice_mismatch", "total", "error"),
        ("einvoice_mismatch", "amount_due", "error"),
        ("einvoice_mismatch", "payment.iban", "error"),
    ]


def test_no_text_layer_is_a_warning() -> None:
    [issue] = compare_with_pages(sample_invoice(), [None])
    assert (issue.code, issue.severity) == ("einvoice_visual_unchecked", "warning")
