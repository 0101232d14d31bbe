"""The embedded e-invoice is found whatever its attachment is called."""

from __future__ import annotations

import pytest

from services.extractor.einvoice.attachments import find_einvoice
from testkit.documents import image_bytes, text_pdf
from testkit.einvoices import einvoice_xml, hybrid_pdf, sample_invoice, visible_lines


@pytest.mark.parametrize(
    "name", ["factur-x.xml", "zugferd-invoice.xml", "ZUGFeRD-invoice.xml", "xrechnung.xml", "x.xml"]
)
def test_finds_the_attachment_by_content(name: str) -> None:
    xml = einvoice_xml()
    pdf = hybrid_pdf(xml, visible_lines(sample_invoice()), attachment=name)
    source = find_einvoice(pdf)
    assert source is not None
    assert (source.xml, source.embedded, source.attachment) == (xml, True, name)


def test_factur_x_library_output_is_found() -> None:
    # generate_from_binary writes the name tree entry and the catalog's /AF array.
    pdf = hybrid_pdf(einvoice_xml(), ["x"], attachment="factur-x.xml", facturx=True)
    assert b"/AF" in pdf
    source = find_einvoice(pdf)
    assert source is not None and source.attachment == "factur-x.xml"


def test_plain_documents_carry_none() -> None:
    assert find_einvoice(text_pdf()) is None
    assert find_einvoice(image_bytes()) is None
    assert find_einvoice(hybrid_pdf(b"<note>hello</note>", ["x"], attachment="n.xml")) is None


def test_an_xml_upload_is_its_own_source() -> None:
    source = find_einvoice(einvoice_xml(syntax="ubl"))
    assert source is not None and not source.embedded


def test_a_pdf_pypdf_cannot_read_carries_none() -> None:
    assert find_einvoice(b"%PDF-1.7\n" + b"\x00garbage" * 50) is None
