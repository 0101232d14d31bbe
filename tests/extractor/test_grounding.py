"""Grounding: values printed on the document keep their confidence, others lose it; where
each is printed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from contracts import Invoice
from services.extractor.grounding import (
    UNGROUNDED_CONFIDENCE,
    Printed,
    amounts_in,
    date_spellings,
    ground,
    grounded_fields,
    locate,
    lower_ungrounded,
)
from services.extractor.page_text import PageText


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


def printed(text: str, **fields: object) -> dict[str, str | None]:
    """What `locate` finds for each value, as the characters of `text` that print it."""
    located = locate(invoice(**fields), [PageText.unplaced(1, text)])
    return {
        path: text[where.start : where.end] if where is not None else None
        for path, where in located.items()
    }


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("Summe 1.234,56 EUR", "1234.56", "1.234,56"),
        ("Total 1 234,56 €", "1234.56", "1 234,56"),
        ("TOTAL $1,234.56", "1234.56", "1,234.56"),
        ("Credit -$5.00", "-5.00", "-$5.00"),
        ("Refund -5.00", "-5.00", "-5.00"),
        ("Coffee 2 100.00 200.00", "100.00", "100.00"),
    ],
)
def test_amounts_are_located_as_printed(text: str, value: str, expected: str) -> None:
    assert printed(text, total=value)["total"] == expected


def test_dates_and_words_are_located_however_spaced_or_cased() -> None:
    text = "ACME   gmbh\nRechnung Nr. INV 1001\nDatum: 15.03.2024"
    found = printed(
        text,
        invoice_date="2024-03-15",
        invoice_number="INV-1001",
        vendor={"name": "Acme GmbH"},
    )

    assert found == {
        "invoice_date": "15.03.2024",
        "invoice_number": "INV 1001",
        "vendor.name": "ACME   gmbh",
    }


def test_every_filled_value_is_looked_for_and_the_unprinted_are_none() -> None:
    found = printed(
        "ACME Ltd\nInvoice total 10.00 EUR\nPay to DE89 3704 0044 0532 0130 00",
        document_type="invoice",  # a classification: not looked for
        currency="EUR",
        total="10.00",
        payment={"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
        customer={"name": "Globex"},
    )

    assert found == {
        "currency": "EUR",
        "total": "10.00",
        "payment.iban": "DE89 3704 0044 0532 0130 00",
        "payment.bic": None,
        "customer.name": None,
    }


def test_currency_signs_stand_for_their_code() -> None:
    assert printed("Total € 10.00", currency="EUR")["currency"] == "€"
    assert printed("TOTAL RM10.00", currency="MYR")["currency"] == "RM"


def test_a_line_items_values_are_read_on_its_own_line() -> None:
    text = "Qty Description Price Amount\n2 Widget A 60.00 120.00\n1 Widget B 60.37 60.37\n"
    text += "Subtotal 180.37"
    items = [
        {"description": "Widget A", "quantity": "2", "unit_price": "60.00", "amount": "120.00"},
        {"description": "Widget B", "quantity": "1", "unit_price": "60.37", "amount": "60.37"},
    ]
    located = locate(invoice(line_items=items), [PageText.unplaced(1, text)])

    def where(path: str) -> tuple[int, str]:
        found = located[path]
        assert found is not None, path
        return text.count("\n", 0, found.start), text[found.start : found.end]

    assert where("line_items[0].quantity") == (1, "2")
    assert where("line_items[1].quantity") == (2, "1")  # not the "1" of another line
    assert where("line_items[1].unit_price") == (2, "60.37")
    assert where("line_items[1].amount") == (2, "60.37")
    assert where("line_items[0].amount") == (1, "120.00")


def test_a_bare_number_is_not_looked_for_off_its_items_line() -> None:
    located = locate(
        invoice(line_items=[{"description": "Gadget", "quantity": "3"}]),
        [PageText.unplaced(1, "Widget 3 pcs\nGadget box")],
    )
    assert located["line_items[0].quantity"] is None


def test_values_are_found_on_the_page_that_prints_them() -> None:
    pages = [PageText.unplaced(1, "ACME Ltd"), PageText.unplaced(2, "Total 10.00")]
    located = locate(invoice(total="10.00", vendor={"name": "ACME Ltd"}), pages)

    assert located["total"] == Printed(2, 6, 11)
    assert located["vendor.name"] == Printed(1, 0, 8)


def test_only_checked_fields_printed_nowhere_lose_confidence() -> None:
    located = {"total": None, "payment.bic": None, "vendor.name": Printed(1, 0, 4)}
    lowered = lower_ungrounded({"total": 0.9, "vendor.name": 0.9}, located)

    assert lowered == {"total": UNGROUNDED_CONFIDENCE, "vendor.name": 0.9}
