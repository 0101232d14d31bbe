"""IBAN, BIC and EU VAT number checks: real-world numbers pass, planted mistakes are named."""

from __future__ import annotations

import pytest

from services.validator.identifiers import (
    EU_VAT_PREFIXES,
    IBAN_LENGTHS,
    bic_problem,
    iban_problem,
    vat_problem,
)

# Published example IBANs (ECBS / national banking associations), as printed on invoices.
VALID_IBANS = [
    "DE89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
    "BE68 5390 0754 7034",
    "CH93 0076 2011 6238 5295 7",
    "AT61 1904 3002 3457 3201",
    "NO93 8601 1117 947",
    "ES91 2100 0418 4502 0005 1332",
    "IT60 X054 2811 1010 0000 0123 456",
    "PL61 1090 1014 0000 0712 1981 2874",
    "SE45 5000 0000 0583 9825 7466",
    "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
    "SA03 8000 0000 6080 1016 7519",
    "LC55 HEMM 0001 0001 0012 0012 0002 3015",
]


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_real_ibans_pass(iban: str) -> None:
    assert iban_problem(iban) is None
    assert iban_problem(iban.replace(" ", "")) is None
    assert iban_problem(iban.lower()) is None


@pytest.mark.parametrize(
    ("iban", "message"),
    [
        pytest.param("DE89 3704 0044 0532 0130 01", "check digits", id="one-digit-changed"),
        pytest.param("DE89 3704 0044 0532 0310 00", "check digits", id="digits-swapped"),
        pytest.param("DE88 3704 0044 0532 0130 00", "check digits", id="check-digit-changed"),
        pytest.param("GB82 WEST 1234 5698 7654 23", "check digits", id="gb-digits-swapped"),
        pytest.param("DE89 3704 0044 0532 0130 0", "22 characters; this one has 21", id="short"),
        pytest.param("DE89 3704 0044 0532 0130 000", "has 23", id="long"),
        pytest.param("NO93 8601 1117 9477", "15 characters", id="norway-long"),
        pytest.param("XX89 3704 0044 0532 0130 00", "XX is not a country", id="unknown-country"),
        pytest.param("US12 3456 7890 1234 5678", "US is not a country", id="no-iban-country"),
        pytest.param("8937 0400 4405 3201 3000", "country code", id="no-country"),
        pytest.param("DE89-3704-0044-0532-0130-00", "letters and digits", id="dashes"),
        pytest.param("", "empty", id="empty"),
    ],
)
def test_planted_iban_mistakes_are_named(iban: str, message: str) -> None:
    problem = iban_problem(iban)
    assert problem is not None
    assert message in problem


def test_the_iban_table_covers_sepa_and_has_valid_lengths() -> None:
    sepa = {
        "AD", "AL", "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB",
        "GI", "GR", "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MC", "MD", "ME", "MK",
        "MT", "NL", "NO", "PL", "PT", "RO", "RS", "SE", "SI", "SK", "SM", "VA",
    }  # fmt: skip
    assert sepa <= set(IBAN_LENGTHS)
    assert all(15 <= length <= 34 for length in IBAN_LENGTHS.values())
    assert all(len(code) == 2 and code.isalpha() for code in IBAN_LENGTHS)


@pytest.mark.parametrize(
    "bic", ["COBADEFFXXX", "DEUTDEFF", "DEUTDEFF500", "NWBKGB2L", "BNPAFRPPXXX", "cobade ff xxx"]
)
def test_real_bics_pass(bic: str) -> None:
    assert bic_problem(bic) is None


@pytest.mark.parametrize(
    ("bic", "message"),
    [
        pytest.param("COBADEF", "8 or 11 characters; this one has 7", id="short"),
        pytest.param("DEUTDEFF50", "this one has 10", id="ten"),
        pytest.param("COBA12FFXXX", "country code", id="digits-for-country"),
        pytest.param("COBA-DEFFXX", "country code", id="punctuation"),
    ],
)
def test_planted_bic_mistakes_are_named(bic: str, message: str) -> None:
    problem = bic_problem(bic)
    assert problem is not None
    assert message in problem


# Well-formed VAT numbers of every EU prefix, as printed (spaces, dots, dashes, lower case).
VALID_VAT = [
    "ATU13585627",
    "BE0403019261",
    "BE 1234.567.890",
    "BG175074752",
    "BG1750747521",
    "CY10259033P",
    "CZ25123891",
    "CZ7103192745",
    "DE136695976",
    "DE 136 695 976",
    "de136695976",
    "DK13585628",
    "EE100931558",
    "EL094259216",
    "ESA13585625",
    "ESX1234567L",
    "ES12345678Z",
    "FI20774740",
    "FR40303265045",
    "FRK7399859412",
    "HR33392005961",
    "HU12892312",
    "IE6433435F",
    "IE6433435OA",
    "IE8D79739I",
    "IT00743110157",
    "LT119511515",
    "LT100001919017",
    "LU15027442",
    "LV40003521600",
    "MT11679112",
    "NL004495445B01",
    "NL-0044.95.445-B01",
    "PL8567346215",
    "PT501964843",
    "RO18547290",
    "RO18",
    "SE556043606401",
    "SI50223054",
    "SK2022749619",
    "XI123456789",
    "XIGD001",
]


@pytest.mark.parametrize("vat", VALID_VAT)
def test_well_formed_eu_vat_numbers_pass(vat: str) -> None:
    assert vat_problem(vat) is None


def test_every_eu_prefix_has_a_passing_example() -> None:
    prefixes = {vat.replace(" ", "").upper()[:2] for vat in VALID_VAT}
    assert prefixes == EU_VAT_PREFIXES
    assert len(EU_VAT_PREFIXES) == 28  # 27 member states (Greece as EL) and Northern Ireland


@pytest.mark.parametrize(
    ("vat", "message"),
    [
        pytest.param("DE13669597", "DE and 9 digits", id="de-digit-dropped"),
        pytest.param("DE1366959761", "DE and 9 digits", id="de-digit-added"),
        pytest.param("AT13585627", "U and 8 digits", id="at-without-u"),
        pytest.param("ATU1358562", "U and 8 digits", id="at-short"),
        pytest.param("BE2403019261", "starting with 0 or 1", id="be-starts-with-2"),
        pytest.param("BE403019261", "10 digits", id="be-old-9-digits"),
        pytest.param("FRIO303265045", "not O or I", id="fr-letters-o-i"),
        pytest.param("FR4030326504", "9 digits", id="fr-short"),
        pytest.param("NL004495445B1", "B and 2 digits", id="nl-short-suffix"),
        pytest.param("NL004495445801", "B and 2 digits", id="nl-b-read-as-8"),
        pytest.param("IT0074311015", "11 digits", id="it-short"),
        pytest.param("ES123456789A", "7 digits", id="es-long"),
        pytest.param("EL09425921", "9 digits", id="el-short"),
        pytest.param("GR094259216", "EL, not GR", id="greece-as-gr"),
        pytest.param("RO0123", "not starting with 0", id="ro-leading-zero"),
        pytest.param("SE55604360640", "12 digits", id="se-short"),
        pytest.param("XI12345678", "9 or 12 digits", id="xi-short"),
    ],
)
def test_planted_vat_mistakes_are_named(vat: str, message: str) -> None:
    problem = vat_problem(vat)
    assert problem is not None
    assert message in problem


@pytest.mark.parametrize(
    "tax_id",
    [
        "12-3456789",  # US EIN
        "W10-1808-31000090",  # Malaysian SST
        "GB123456789",  # UK: outside the EU VAT area since 2021
        "CHE-123.456.789 MWST",  # Switzerland
        "NO 123456789 MVA",  # Norway
        "27AAPFU0939F1ZV",  # Indian GSTIN
        "",
    ],
)
def test_tax_ids_without_an_eu_prefix_are_not_checked(tax_id: str) -> None:
    assert vat_problem(tax_id) is None
