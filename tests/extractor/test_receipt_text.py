"""What receipt text looks like: amounts, names, addresses, OCR noise."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.extractor.receipt_text import amounts, clean_name, commas, plain_letters


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TOTAL | 153.35", [Decimal("153.35")]),
        ("Total Amount: $8.20", [Decimal("8.20")]),
        ("TOTAL RM 1,234.50", [Decimal("1234.50")]),
        ("ROUNDING | -0.01", [Decimal("-0.01")]),
        ("SR | 6.00 | 144.68 | 8.68", [Decimal("6.00"), Decimal("144.68"), Decimal("8.68")]),
        ("Total Qty: 18", []),
        ("GST 6% 0.46", [Decimal("0.46")]),
        ("Gesamt 12.287,92 EUR", [Decimal("12287.92")]),
        ("Summe 1.234.567,80", [Decimal("1234567.80")]),
        ("TOTAL 12 .50", [Decimal("12.50")]),  # OCR's space beside the point
        # Boxes are joined with spaces: a quantity before a price is not a thousands group.
        ("COFFEE | 2 | 100.00 | 200.00", [Decimal("100.00"), Decimal("200.00")]),
    ],
)
def test_amounts(text: str, expected: list[Decimal]) -> None:
    assert amounts(text) == expected


def test_diacritics_go_and_plain_text_stays() -> None:
    assert plain_letters("SETIA ÁLAM, HARDWÀRE") == "SETIA ALAM, HARDWARE"
    assert plain_letters("NO. 31G&33G, U13/X") == "NO. 31G&33G, U13/X"


def test_registration_numbers_are_not_part_of_a_name() -> None:
    assert clean_name("AEON CO. (M) BHD (126926-H)") == "AEON CO. (M) BHD"
    assert clean_name("MOONLIGHT CAKE HOUSE SDN BHD 862725-U") == "MOONLIGHT CAKE HOUSE SDN BHD"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AMANO MALAYSIA SON BHD", "AMANO MALAYSIA SDN BHD"),
        ("ONE ONE THREE SEAFOOD RESTAURANT SDN DHD", "ONE ONE THREE SEAFOOD RESTAURANT SDN BHD"),
        ("SEGI CASH & CARRY SDN. BHD.", "SEGI CASH & CARRY SDN. BHD."),
        ("99 SPEED MART 5/B", "99 SPEED MART S/B"),
        ("#000002 BAIFU (M) SDN BHD", "BAIFU (M) SDN BHD"),
        ("OWN BY: CHEF LEE SDN BHD", "CHEF LEE SDN BHD"),
        ("AEON CO. (M) BHD'", "AEON CO. (M) BHD"),
        ("CHEF LEE SDN BHD CO.NO.", "CHEF LEE SDN BHD"),
        ("ESJAY FUEL ENTERPRISE CO. REG. NO", "ESJAY FUEL ENTERPRISE"),
        ("AIK HUAT_HARDWARE ENTERPRISE", "AIK HUAT HARDWARE ENTERPRISE"),
        ("UNIHAKKA INTERNATIONAL-SDN BHD", "UNIHAKKA INTERNATIONAL SDN BHD"),
        ("PASAR MINI 7-ELEVEN", "PASAR MINI 7-ELEVEN"),
    ],
)
def test_company_suffixes_are_read_back_from_their_misreadings(text: str, expected: str) -> None:
    assert clean_name(text) == expected


def test_full_stops_read_for_commas_become_commas_again() -> None:
    assert (
        commas("Lot 38. Jalan Kenari 5. 47170 Puchong.") == "Lot 38, Jalan Kenari 5, 47170 Puchong."
    )
