from __future__ import annotations

import pytest

from contracts.currencies import ACTIVE_CURRENCIES, DEFAULT_MINOR_UNITS, minor_units


def test_active_currencies_are_iso_codes() -> None:
    assert {"EUR", "USD", "JPY", "KWD", "CHF", "GBP", "XCG", "ZWG"} <= ACTIVE_CURRENCIES
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in ACTIVE_CURRENCIES)


@pytest.mark.parametrize("code", ["XAU", "XXX", "XTS", "CHE", "USN", "DEM", "FRF"])
def test_metals_funds_test_codes_and_retired_currencies_are_not_active(code: str) -> None:
    assert code not in ACTIVE_CURRENCIES


@pytest.mark.parametrize(
    ("code", "decimals"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("HUF", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("ISK", 0),
        ("CLP", 0),
        ("XOF", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("OMR", 3),
        ("JOD", 3),
        ("IQD", 3),
        ("LYD", 3),
        ("TND", 3),
        ("jpy", 0),
    ],
)
def test_minor_units_follow_iso_4217(code: str, decimals: int) -> None:
    assert minor_units(code) == decimals


@pytest.mark.parametrize("code", [None, "XYZ", ""])
def test_unknown_or_missing_currencies_have_two_decimals(code: str | None) -> None:
    assert minor_units(code) == DEFAULT_MINOR_UNITS == 2


def test_every_currency_with_other_decimals_is_active() -> None:
    odd = [code for code in ACTIVE_CURRENCIES if minor_units(code) != 2]
    assert len(odd) == 23
