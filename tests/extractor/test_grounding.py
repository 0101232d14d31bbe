"""Grounding: values printed on the document keep their confidence, others lose it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from contracts import Invoice
from services.extractor.grounding import (
    UNGROUNDED_CONFIDENCE,
    amounts_in,
    date_spellings,
    ground,
    grounded_fields,
)


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("Total 193.00", "193.00"),
        ("Summe 1.234,56 EUR", "1234.56"),
        ("Total 1 234,56 €", "1234.56"),
        ("TOTAL $1,234.56", "1234.56"),
        ("Betrag 12,50", "12.50"),
        ("Refund -5.00", "-5.00"),
        ("Total 1\u202f234,56 €", "1234.56"),
        ("Credit -$5.00", "-5.00"),
        ("Coffee 2 100.00 200.00", "100.00"),  # a quantity beside a price
        ("Coffee 2 100.00 200.00", "2100.00"),  # or a French thousands group
    ],
)
def test_amounts_are_read_in_any_locale(printed: str, value: str) -> None:
    assert Decimal(value) in amounts_in(printed)


def test_numbers_without_cents_are_not_amounts() -> None:
    assert amounts_in("the total is 0, year 2024, pi 3.14159, version 1.5") == set()


def test_dates_are_found_however_printed() -> None:
    spellings = date_spellings(dt.date(2019, 1, 5))
    for printed in ("2019-01-05", "05/01/2019", "01/05/2019", "5.1.2019", "05 jan", "jan 5"):
        assert printed in spellings


def invoice(**fields: object) -> Invoice:
    return Invoice.model_validate(fields)


def test_printed_values_are_grounded_and_others_not() -> None:
    text = "ACME GmbH\nRechnung Nr. INV-1001\nDatum: 15.03.2024\nGesamt 193,00 EUR"
    found = grounded_fields(
        invoice(
            total="193.00",
            subtotal="180.37",
            invoice_number="INV 1001",
            invoice_date="2024-03-15",
            due_date="2024-04-14",
            vendor={"name": "Acme GmbH"},
        ),
        text,
    )

    assert found == {
        "total": True,
        "subtotal": False,
        "invoice_number": True,  # spacing and punctuation do not matter
        "invoice_date": True,
        "due_date": False,
        "vendor.name": True,
    }


def test_only_ungrounded_fields_lose_confidence() -> None:
    lowered = ground(
        invoice(total="0.00", vendor={"name": "ACME"}),
        {"total": 0.99, "vendor.name": 0.9, "currency": 0.8},
        "ACME\nTotal 193.00",
    )

    assert lowered == {"total": UNGROUNDED_CONFIDENCE, "vendor.name": 0.9, "currency": 0.8}


def test_an_ungrounded_field_without_confidence_gets_the_low_one() -> None:
    assert ground(invoice(total="5.00"), {}, "nothing here") == {"total": UNGROUNDED_CONFIDENCE}
