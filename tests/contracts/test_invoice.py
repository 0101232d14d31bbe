from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from contracts import Invoice
from contracts.invoice import (
    INVOICE_MONEY,
    LINE_ITEM_MONEY,
    TAX_DETAIL_MONEY,
    Money,
    Rate,
    money_fields,
)


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


@pytest.mark.parametrize(
    "bad",
    [
        {"currency": "eur"},
        {"currency": "EURO"},
        {"total": "1,00,0"},
        {"total": "12 EUR 50"},
        {"total": "NaN"},
        {"total": "1E+3"},
    ],
)
def test_bad_values_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Invoice.model_validate(bad)


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1 234,56", "1234.56"),
        ("1,00", "1.00"),  # a single comma before two digits is a decimal comma
        ("$8.20", "8.20"),
        ("(12.50)", "-12.50"),
    ],
)
def test_money_printed_in_any_locale_is_read(printed: str, expected: str) -> None:
    invoice = Invoice(total=printed)
    assert invoice.total == Decimal(expected)
    assert invoice.model_dump(mode="json")["total"] == expected


def test_rates_are_read_like_money() -> None:
    detail = Invoice.model_validate({"tax_details": [{"rate": "7,5", "amount": "1.234,56"}]})
    assert detail.tax_details[0].rate == Decimal("7.5")
    assert detail.tax_details[0].amount == Decimal("1234.56")


@pytest.mark.parametrize(("given", "expected"), [(5, Decimal(5)), (Decimal("1.5"), Decimal("1.5"))])
def test_ints_and_decimals_are_kept(given: object, expected: Decimal) -> None:
    assert Invoice.model_validate({"total": given}).total == expected


def test_null_money_stays_null() -> None:
    assert Invoice.model_validate({"total": None}).total is None


def test_schema_names_every_field_of_the_spec() -> None:
    fields = set(Invoice.model_json_schema()["properties"])
    assert fields == {
        "document_type", "invoice_number", "invoice_date", "due_date", "currency", "vendor",
        "customer", "purchase_order", "buyer_reference", "payment_terms", "subtotal",
        "total_discount", "shipping", "total_tax", "total", "amount_paid", "amount_due",
        "tax_details", "line_items", "payment",
    }  # fmt: skip


def test_money_fields_are_those_annotated_money_or_rate() -> None:
    assert INVOICE_MONEY == (
        "subtotal", "total_discount", "shipping", "total_tax", "total", "amount_paid", "amount_due",
    )  # fmt: skip
    assert LINE_ITEM_MONEY == ("quantity", "unit_price", "tax_rate", "amount")
    assert TAX_DETAIL_MONEY == ("rate", "base", "amount")


def test_money_fields_finds_bare_and_optional_amounts_only() -> None:
    class Sample(BaseModel):
        price: Money
        rate: Rate | None = None
        prices: list[Money] = []
        count: int | None = None
        note: str = ""

    assert money_fields(Sample) == ("price", "rate")
