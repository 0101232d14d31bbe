"""Printed amounts are read once, here, the same way for every service."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts import PrintedAmount, find_amounts, iter_amounts, parse_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Plain machine decimals: a single dot is always a decimal point.
        ("193.00", "193.00"),
        ("-5", "-5"),
        ("0.5", "0.5"),
        ("1.234", "1.234"),
        ("+5", "5"),
        (" 42 ", "42"),
        ("-0.00", "-0.00"),
        # Grouped thousands, in every locale.
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1\u202f234,56", "1234.56"),
        ("1'234.56", "1234.56"),
        ("1’234.56", "1234.56"),
        ("1.234.567,89", "1234567.89"),
        ("1,234,567.89", "1234567.89"),
        ("1 234", "1234"),
        # A comma before exactly three digits groups thousands, once or more.
        ("1,234", "1234"),
        ("1,234,567", "1234567"),
        # Any other single comma is a decimal comma; so is one no thousands group can follow.
        ("12,50", "12.50"),
        ("12,5", "12.5"),
        ("1,2345", "1.2345"),
        ("0,500", "0.500"),
        ("1234,567", "1234.567"),
        # Several dots group thousands.
        ("1.234.567", "1234567"),
        # Currency symbols and codes, before or after.
        ("$8.20", "8.20"),
        ("€ 12,50", "12.50"),
        ("12,50 €", "12.50"),
        ("12.50 EUR", "12.50"),
        ("EUR 1.234,56", "1234.56"),
        ("RM 12", "12"),
        ("RM12.50", "12.50"),
        ("US$ 5", "5"),
        ("£1,000", "1000"),
        # Negative: a sign in front, a trailing minus, parentheses.
        ("-12.50", "-12.50"),
        ("−12.50", "-12.50"),
        ("-$5.00", "-5.00"),
        ("$-5.00", "-5.00"),
        ("12.50-", "-12.50"),
        ("12,50 EUR-", "-12.50"),
        ("(12.50)", "-12.50"),
        ("($1,234.56)", "-1234.56"),
    ],
)
def test_amounts_are_read_in_any_printed_form(text: str, expected: str) -> None:
    value = parse_amount(text)
    assert value == Decimal(expected)
    assert format(value, "f") == expected  # the digits as printed, no rounding


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "-",
        "()",
        "EUR",
        "n/a",
        "abc",
        "NaN",
        "Infinity",
        "1E+3",
        "12a34",
        "12 EUR 34",
        "12.50 eur",  # a code is printed in capitals; lower case is prose
        "Total: 12.50",
        # Malformed grouping: groups after the first are exactly three digits.
        "1,23,4.5",
        "1,80.37",
        "1,23,456.00",
        "12 50",
        "1.2.3",
        "01,234.56",
        "0.234.567",
        "1,234 56",
        # Two decimal separators, mixed thousands separators.
        "1.234,56.78",
        "1,234.56.78",
        "1.234 567,89",
        "1,,234",
        "12.",
        # Signs: at most one.
        "--5",
        "(-5)",
        "-5-",
        "5-5",
        "12.50%",
    ],
)
def test_what_is_not_an_amount_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        parse_amount(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Summe 1.234,56 EUR, MwSt 19% 197,11", ["1234.56", "197.11"]),  # German
        ("Subtotal $1,234.56 Tax $98.76 Total $1,333.32", ["1234.56", "98.76", "1333.32"]),
        ("Total TTC 1 234,56 € dont TVA 205,76 €", ["1234.56", "205.76"]),  # French
        ("Total 1\u202f234,56 €", ["1234.56"]),
        ("Betrag CHF 1'234.50", ["1234.50"]),  # Swiss
        ("TOTAL RM 1,234.50 CASH RM50.00", ["1234.50", "50.00"]),
        ("Refund -5.00, discount -RM 2.50, credit -$1.00", ["-5.00", "-2.50", "-1.00"]),
        ("Summe 1.234.567,80", ["1234567.80"]),
        # With decimals only: no years, bare numbers, long fractions or rates.
        ("the total is 0, year 2024, pi 3.14159, version 1.5", []),
        ("GST 6.00% 0.46", ["0.46"]),
        ("Total Qty: 18", []),
        ("", []),
    ],
)
def test_amounts_are_found_in_text(text: str, expected: list[str]) -> None:
    assert find_amounts(text) == [Decimal(value) for value in expected]


def test_a_space_groups_thousands_unless_it_separates_columns() -> None:
    row = "Coffee 2 100.00 200.00"
    assert find_amounts(row) == [Decimal("2100.00"), Decimal("200.00")]
    assert find_amounts(row, space_groups=False) == [Decimal("100.00"), Decimal("200.00")]
    # Unbreakable spaces only ever group thousands.
    assert find_amounts("1\u00a0234,56", space_groups=False) == [Decimal("1234.56")]


def test_found_amounts_say_where_they_were_printed() -> None:
    text = "Tea 2 x 3,50 7,00"
    found = list(iter_amounts(text, space_groups=False))
    assert found == [
        PrintedAmount(Decimal("3.50"), 8, 12),
        PrintedAmount(Decimal("7.00"), 13, 17),
    ]
    assert [text[f.start : f.end] for f in found] == ["3,50", "7,00"]


def test_found_amounts_read_like_parsed_ones() -> None:
    # Whatever find_amounts finds, parse_amount reads the same from the printed text.
    text = "1.234,56 | 1,234.56 | 1 234,56 | -12.50 | 1'234.56 | $8.20 | -RM 5.00"
    for found in iter_amounts(text):
        assert parse_amount(text[found.start : found.end]) == found.value
