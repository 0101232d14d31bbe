"""The official XSD and EN 16931 Schematron, offline: clean documents pass, broken ones name
the rule they break."""

from __future__ import annotations

import pytest

from services.extractor.einvoice.standard import schematron_issues, xsd_issues
from services.extractor.einvoice.xml import parse_einvoice
from testkit.einvoices import (
    PEPPOL_UBL,
    drafthorse_cii,
    einvoice_xml,
    sample_credit_note,
    sample_invoice,
)

SYNTAXES = ["ubl", "cii"]


def errors(issues: list) -> list[str]:  # type: ignore[type-arg]
    return [issue.code for issue in issues if issue.severity == "error"]


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize("invoice", [sample_invoice(), sample_credit_note()], ids=["inv", "cn"])
def test_exported_documents_pass(syntax: str, invoice: object) -> None:
    parsed = parse_einvoice(einvoice_xml(invoice, syntax))  # type: ignore[arg-type]
    assert xsd_issues(parsed) == []
    assert errors(schematron_issues(parsed)) == []


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_vat_total_that_does_not_add_up_is_br_co_14(syntax: str) -> None:
    invoice = sample_invoice(total_tax="48.95", total="343.95", amount_due="343.95")
    parsed = parse_einvoice(einvoice_xml(invoice, syntax))  # type: ignore[arg-type]
    assert "BR-CO-14" in errors(schematron_issues(parsed))


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_schema_violation_is_an_xsd_finding(syntax: str) -> None:
    xml = einvoice_xml(syntax=syntax)  # type: ignore[arg-type]
    tag = b"<cbc:IssueDate>" if syntax == "ubl" else b"<ram:TypeCode>"
    bogus = b"<cbc:Bogus>1</cbc:Bogus>" if syntax == "ubl" else b"<ram:Bogus>1</ram:Bogus>"
    xml = xml.replace(tag, bogus + tag, 1)
    issues = xsd_issues(parse_einvoice(xml))
    assert issues and issues[0].code == "xsd" and issues[0].severity == "error"


def test_documents_made_elsewhere() -> None:
    parsed = parse_einvoice(drafthorse_cii())
    assert xsd_issues(parsed) == []
    assert errors(schematron_issues(parsed)) == []
    # The hand-written one gives only a trading name (BT-27 is mandatory: BR-06) and two
    # payment means (UBL-SR-47); the official rules say so.
    parsed = parse_einvoice(PEPPOL_UBL)
    assert xsd_issues(parsed) == []
    assert sorted(set(errors(schematron_issues(parsed)))) == ["BR-06", "UBL-SR-47"]
