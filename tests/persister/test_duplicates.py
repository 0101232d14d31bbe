"""What counts as the same vendor and the same invoice number."""

from __future__ import annotations

import pytest

from contracts import ValidationIssue, ValidationReport
from services.persister.duplicates import (
    duplicate_warnings,
    flag_duplicate,
    number_key,
    vendor_key,
)


@pytest.mark.parametrize(
    "name",
    ["ACME GmbH", "Acme Gmbh.", "acme", "ACME", " Acme  GmbH ", "Acme, Inc.", "ACME Co. Ltd"],
)
def test_vendor_spellings_of_one_company_share_a_key(name: str) -> None:
    assert vendor_key(name) == "acme"


def test_vendor_keys_keep_what_tells_companies_apart() -> None:
    assert vendor_key("Müller Bau GmbH") == vendor_key("Muller Bau") == "mullerbau"
    assert vendor_key("Acme Tools") != vendor_key("Acme")
    assert vendor_key("GmbH") == "gmbh"  # a name of legal forms only is still a name
    assert vendor_key(None) == vendor_key("  ") == ""


@pytest.mark.parametrize("number", ["INV-0042", "inv 0042", "INV0042", "Inv/0042", " INV_0042 "])
def test_number_spellings_share_a_key(number: str) -> None:
    assert number_key(number) == "inv0042"


def test_different_numbers_differ() -> None:
    assert number_key("INV-42") != number_key("INV-0042")
    assert number_key(None) == ""


def test_flagging_a_valid_invoice_makes_it_need_review() -> None:
    flagged = flag_duplicate(ValidationReport(status="valid"), "inv_" + "1" * 32, "number")

    assert flagged.status == "needs_review"
    (issue,) = flagged.issues
    assert (issue.code, issue.field, issue.severity) == (
        "duplicate_invoice",
        "invoice_number",
        "warning",
    )
    assert "inv_" + "1" * 32 in issue.message
    assert duplicate_warnings(flagged) == [issue]


def test_flagging_keeps_an_invalid_invoice_invalid_and_its_findings() -> None:
    error = ValidationIssue(code="total_mismatch", field="total", message="x", severity="error")
    report = ValidationReport(status="invalid", issues=[error])

    flagged = flag_duplicate(report, "inv_" + "2" * 32, "file")

    assert flagged.status == "invalid"
    assert [i.code for i in flagged.issues] == ["total_mismatch", "duplicate_invoice"]
    assert flagged.issues[1].field is None
