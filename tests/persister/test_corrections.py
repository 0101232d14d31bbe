"""A reviewer's corrections: checked like an extraction, diffed, and marked as reviewed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts import Invoice
from services.persister.corrections import CorrectionError, apply_corrections
from tests.persister.samples import INVOICE

CONFIDENCE = {"total": 0.4, "vendor.name": 0.5, "vendor.address": 0.6, "invoice_date": 0.9}


def invoice() -> Invoice:
    return Invoice.model_validate(INVOICE)


def test_a_corrected_field_changes_and_is_recorded_with_its_old_value() -> None:
    corrected = apply_corrections(invoice(), CONFIDENCE, {"total": "178.40"})

    assert corrected.invoice.total == Decimal("178.40")
    assert [(c.field, c.old, c.new) for c in corrected.changes] == [("total", "178.50", "178.40")]
    assert corrected.confidence["total"] == 1.0
    assert corrected.confidence["vendor.name"] == 0.5  # untouched fields keep theirs


def test_values_are_read_like_an_extraction_in_any_printed_locale() -> None:
    corrected = apply_corrections(
        invoice(), CONFIDENCE, {"total": "178,50", "invoice_date": "2026-11-03"}
    )

    # "178,50" is the value already there: confirmed, not changed.
    assert [c.field for c in corrected.changes] == ["invoice_date"]
    assert corrected.confidence["total"] == 1.0


def test_nested_fields_and_whole_objects() -> None:
    corrected = apply_corrections(
        invoice(),
        CONFIDENCE,
        {"vendor.name": "ACME Tools GmbH", "payment": {"iban": "DE89370400440532013000"}},
    )

    assert corrected.invoice.vendor.name == "ACME Tools GmbH"
    assert corrected.invoice.vendor.tax_id == "DE123456789"  # the rest of the vendor stays
    assert corrected.invoice.payment.iban == "DE89370400440532013000"
    assert {c.field for c in corrected.changes} == {"vendor.name", "payment"}
    # A whole object confirms every field of it.
    assert corrected.confidence["vendor.name"] == 1.0


def test_line_items_are_replaced_whole() -> None:
    items = [{"description": "Widget", "quantity": "3", "unit_price": "50.00", "amount": "150.00"}]

    corrected = apply_corrections(invoice(), CONFIDENCE, {"line_items": items})

    assert [item.amount for item in corrected.invoice.line_items] == [Decimal("150.00")]
    (change,) = corrected.changes
    assert change.field == "line_items" and len(change.old) == 2 and len(change.new) == 1


def test_no_corrections_change_nothing() -> None:
    corrected = apply_corrections(invoice(), CONFIDENCE, {})

    assert corrected.invoice == invoice() and corrected.changes == []
    assert corrected.confidence == CONFIDENCE


@pytest.mark.parametrize(
    ("corrections", "message"),
    [
        ({"totl": "1.00"}, "unknown field 'totl'"),
        ({"vendor.nickname": "x"}, "unknown field 'vendor.nickname'"),
        ({"total.amount": "1"}, "unknown field 'total.amount'"),
        ({"total": "twelve"}, "total"),
        ({"total": 12.5}, "float"),
        ({"invoice_date": "2026-02-30"}, "invoice_date"),
        ({"currency": "euro"}, "currency"),
        ({"vendor": {"name": "x", "shoe_size": 9}}, "shoe_size"),
        ({"document_type": "menu"}, "document_type"),
    ],
)
def test_bad_corrections_are_refused_with_the_field_named(
    corrections: dict[str, object], message: str
) -> None:
    with pytest.raises(CorrectionError, match=message):
        apply_corrections(invoice(), CONFIDENCE, corrections)
