"""Untrusted XML: DTDs, entities, wrong roots and broken documents are refused in words."""

from __future__ import annotations

import pytest

from services.extractor.einvoice.xml import EInvoiceError, parse_einvoice
from testkit.einvoices import einvoice_xml

UBL = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<Invoice xmlns="' + UBL.encode() + b'"><ID>&lol3;</ID></Invoice>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b'<Invoice xmlns="' + UBL.encode() + b'"><ID>&e;</ID></Invoice>'
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE Invoice SYSTEM "http://127.0.0.1:9/x.dtd">'
    b'<Invoice xmlns="' + UBL.encode() + b'"/>'
)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (BILLION_LAUGHS, "DTD"),
        (XXE, "DTD"),
        (EXTERNAL_DTD, "DTD"),
        (b'<Invoice xmlns="urn:example:not-ubl"><ID>1</ID></Invoice>', "neither"),
        (einvoice_xml()[:600], "malformed or truncated"),
        (b'<CrossIndustryDocument xmlns="urn:ferd:CrossIndustryDocument:invoice:1p0"/>', "1.0"),
        (b"<a>" * 100 + b"</a>" * 100, "nests deeper"),
    ],
)
def test_refuses_in_words(data: bytes, words: str) -> None:
    with pytest.raises(EInvoiceError) as caught:
        parse_einvoice(data)
    assert words in str(caught.value)
    assert "lxml" not in str(caught.value) and "Error" not in str(caught.value)


def test_reads_both_syntaxes() -> None:
    assert parse_einvoice(einvoice_xml(syntax="cii")).syntax == "CII"
    assert parse_einvoice(einvoice_xml(syntax="ubl")).syntax == "UBL"
