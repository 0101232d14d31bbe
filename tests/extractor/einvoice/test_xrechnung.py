"""XRechnung's BR-DE rules, as code."""

from __future__ import annotations

import pytest

from services.extractor.einvoice.xml import parse_einvoice
from services.extractor.einvoice.xrechnung import is_xrechnung, xrechnung_issues
from testkit.einvoices import XRECHNUNG, einvoice_xml, sample_invoice


def test_recognises_the_cius() -> None:
    assert is_xrechnung(XRECHNUNG) and not is_xrechnung("urn:cen.eu:en16931:2017")


@pytest.mark.parametrize("syntax", ["ubl", "cii"])
def test_missing_buyer_reference_is_br_de_15(syntax: str) -> None:
    xml = einvoice_xml(sample_invoice(buyer_reference=None), syntax, XRECHNUNG)  # type: ignore[arg-type]
    codes = [issue.code for issue in xrechnung_issues(parse_einvoice(xml))]
    assert "BR-DE-15" in codes and "BR-DE-1" not in codes
    # The writer has no contact person (BT-41): BR-DE-5 stays.
    assert "BR-DE-5" in codes
