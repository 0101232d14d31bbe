"""Checks of printed identifiers: IBAN, BIC and EU VAT numbers. Pure functions, no lookups.

Each `*_problem` function takes the value as printed and returns a human-readable message when
it cannot be right, or None when it can. None means "well-formed", not "exists": only a bank or
VIES can say that.

- IBAN (ISO 13616): spaces are allowed and case is ignored; the country must be one of the
  IBAN registry's, the length must be that country's, and the check digits must pass mod 97.
- BIC (ISO 9362): 8 or 11 letters and digits, the 5th and 6th being a country code's letters.
- EU VAT numbers: only values that start with an EU VAT prefix (AT … SK, EL for Greece, XI for
  Northern Ireland) are checked, against that country's format as VIES publishes it. Spaces,
  dots and dashes are ignored. The format is checked, not the country's check digits. Values
  without such a prefix (a US EIN, a Malaysian SST number, a UK "GB…" number: the UK left the EU
  VAT area) are not checked, except "GR…": Greece's VAT prefix is EL, so that is flagged.
"""

from __future__ import annotations

import re

# Length of an IBAN by country: the SWIFT IBAN registry (2025), its official entries only.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

# EU VAT number formats after the two-letter prefix (VIES), with a description for messages.
VAT_FORMATS: dict[str, tuple[str, str]] = {
    "AT": (r"U\d{8}", "U and 8 digits"),
    "BE": (r"[01]\d{9}", "10 digits starting with 0 or 1"),
    "BG": (r"\d{9,10}", "9 or 10 digits"),
    "CY": (r"\d{8}[A-Z]", "8 digits and a letter"),
    "CZ": (r"\d{8,10}", "8 to 10 digits"),
    "DE": (r"\d{9}", "9 digits"),
    "DK": (r"\d{8}", "8 digits"),
    "EE": (r"\d{9}", "9 digits"),
    "EL": (r"\d{9}", "9 digits"),
    "ES": (r"[A-Z\d]\d{7}[A-Z\d]", "a letter or digit, 7 digits and a letter or digit"),
    "FI": (r"\d{8}", "8 digits"),
    "FR": (r"[\dA-HJ-NP-Z]{2}\d{9}", "2 digits or letters (not O or I) and 9 digits"),
    "HR": (r"\d{11}", "11 digits"),
    "HU": (r"\d{8}", "8 digits"),
    "IE": (
        r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
        "7 digits and 1 or 2 letters, or digit, letter, 5 digits and a letter",
    ),
    "IT": (r"\d{11}", "11 digits"),
    "LT": (r"\d{9}|\d{12}", "9 or 12 digits"),
    "LU": (r"\d{8}", "8 digits"),
    "LV": (r"\d{11}", "11 digits"),
    "MT": (r"\d{8}", "8 digits"),
    "NL": (r"\d{9}B\d{2}", "9 digits, B and 2 digits"),
    "PL": (r"\d{10}", "10 digits"),
    "PT": (r"\d{9}", "9 digits"),
    "RO": (r"[1-9]\d{1,9}", "2 to 10 digits, not starting with 0"),
    "SE": (r"\d{12}", "12 digits"),
    "SI": (r"\d{8}", "8 digits"),
    "SK": (r"\d{10}", "10 digits"),
    "XI": (r"\d{9}|\d{12}|GD\d{3}|HA\d{3}", "9 or 12 digits, or GD or HA and 3 digits"),
}
EU_VAT_PREFIXES = frozenset(VAT_FORMATS)

_VAT_PATTERNS = {prefix: re.compile(pattern) for prefix, (pattern, _) in VAT_FORMATS.items()}
_ALNUM = re.compile(r"[A-Z0-9]+")
_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_VAT_SEPARATORS = re.compile(r"[\s.\-]+")


def compact(value: str) -> str:
    """The value without whitespace, upper-cased: how IBANs and BICs are compared."""
    return "".join(value.split()).upper()


def iban_problem(value: str) -> str | None:
    iban = compact(value)
    if not iban:
        return "The IBAN is empty."
    if not _ALNUM.fullmatch(iban):
        return "An IBAN has only letters and digits."
    country, check = iban[:2], iban[2:4]
    if not (country.isalpha() and check.isdigit()):
        return "An IBAN starts with a two-letter country code and two check digits."
    length = IBAN_LENGTHS.get(country)
    if length is None:
        return f"{country} is not a country of the IBAN registry."
    if len(iban) != length:
        return f"A {country} IBAN has {length} characters; this one has {len(iban)}."
    # ISO 7064 mod 97-10: move the first four characters to the end, letters become 10…35.
    digits = "".join(str(int(char, 36)) for char in iban[4:] + iban[:4])
    if int(digits) % 97 != 1:
        return "The IBAN's check digits do not match (mod 97): a character is wrong."
    return None


def bic_problem(value: str) -> str | None:
    bic = compact(value)
    if len(bic) not in (8, 11):
        return f"A BIC has 8 or 11 characters; this one has {len(bic)}."
    if not _BIC.fullmatch(bic):
        return "A BIC is 4 letters or digits, a 2-letter country code and 2 or 5 letters or digits."
    return None


def vat_problem(value: str) -> str | None:
    vat = _VAT_SEPARATORS.sub("", value).upper()
    prefix, number = vat[:2], vat[2:]
    if prefix == "GR":
        return "Greek VAT numbers start with EL, not GR."
    if prefix not in EU_VAT_PREFIXES:
        return None
    if not _VAT_PATTERNS[prefix].fullmatch(number):
        _, shape = VAT_FORMATS[prefix]
        return f"{vat} is not a {prefix} VAT number: those are {prefix} and {shape}."
    return None
