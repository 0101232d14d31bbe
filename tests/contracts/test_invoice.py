from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from contracts import Invoice


def test_money_is_a_decimal_string_both_ways() -> None:
    invoice = Invoice.model_validate({"total": "193.00", "line_items": [{"amount": 5}]})
    assert invoice.total == Decimal("193.00")
    dumped = invoice.model_dump(mode="json")
    assert dumped["total"] == "193.00"
    assert dumped["line_items"][0]["amount"] == "5"


def test_float_money_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a float"):
        Invoice.model_validate({"total": 193.1})


def test_unknown_values_are_null_and_dates_iso() -> None:
    dumped = Invoice.model_validate({"invoice_date": "2024-03-15"}).model_dump(mode="json")
    assert dumped["invoice_date"] == "2024-03-15"
    assert dumped["due_date"] is None and dumped["vendor"]["name"] is None
    assert dumped["line_items"] == [] and dumped["tax_details"] == []


@pytest.mark.parametrize("bad", [{"currency": "eur"}, {"currency": "EURO"}, {"total": "1,00"}])
def test_bad_values_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Invoice.model_validate(bad)


def test_schema_names_every_field_of_the_spec() -> None:
    fields = set(Invoice.model_json_schema()["properties"])
    assert fields == {
        "document_type", "invoice_number", "invoice_date", "due_date", "currency", "vendor",
        "customer", "purchase_order", "payment_terms", "subtotal", "total_discount", "shipping",
        "total_tax", "total", "amount_paid", "amount_due", "tax_details", "line_items", "payment",
    }  # fmt: skip
