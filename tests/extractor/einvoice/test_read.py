"""Every mapped business term comes back exactly, in both syntaxes, with its evidence."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts import Invoice
from services.extractor.einvoice.read import read_einvoice
from services.extractor.einvoice.xml import parse_einvoice
from testkit.einvoices import (
    PEPPOL_UBL,
    XRECHNUNG,
    drafthorse_cii,
    einvoice_xml,
    sample_credit_note,
    sample_invoice,
)

SYNTAXES = ["ubl", "cii"]


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize("invoice", [sample_invoice(), sample_credit_note()], ids=["inv", "cn"])
def test_round_trip_is_exact(syntax: str, invoice: Invoice) -> None:
    read = read_einvoice(parse_einvoice(einvoice_xml(invoice, syntax)))  # type: ignore[arg-type]
    assert read.invoice == invoice
    assert read.issues == []


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_values_are_decimals_and_negative_amounts_stay(syntax: str) -> None:
    invoice = sample_invoice(
        subtotal="-300.00",
        total_discount=None,
        shipping=None,
        total_tax="-44.05",
        total="-344.05",
        amount_due="-344.05",
        tax_details=[
            {"rate": "19", "base": "-200.00", "amount": "-38.00", "category": "S"},
            {"rate": "7", "base": "-100.00", "amount": "-7.00", "category": "S"},
        ],
        line_items=[
            {"description": "A", "quantity": "-2", "unit_price": "100.00", "tax_rate": "19",
             "amount": "-200.00"},
            {"description": "B", "quantity": "-4", "unit_price": "25.00", "tax_rate": "7",
             "amount": "-100.00"},
        ],
    )  # fmt: skip
    read = read_einvoice(parse_einvoice(einvoice_xml(invoice, syntax)))  # type: ignore[arg-type]
    assert read.invoice.total == Decimal("-344.05")
    assert read.invoice.line_items[0].quantity == Decimal("-2")


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_evidence_points_at_the_element(syntax: str) -> None:
    read = read_einvoice(parse_einvoice(einvoice_xml(syntax=syntax)))  # type: ignore[arg-type]
    total = read.evidence["total"]
    assert total.page == 1 and total.bbox is None
    assert total.text.endswith("GrandTotalAmount" if syntax == "cii" else "TaxInclusiveAmount")
    assert "[2]" in read.evidence["line_items[1].amount"].text
    assert read.evidence["vendor.address"].text.endswith(
        "PostalTradeAddress" if syntax == "cii" else "PostalAddress"
    )


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_specification_identifier_is_read(syntax: str) -> None:
    read = read_einvoice(parse_einvoice(einvoice_xml(None, syntax, XRECHNUNG)))  # type: ignore[arg-type]
    assert read.specification == XRECHNUNG


def test_price_base_quantity_divides_the_net_price() -> None:
    xml = einvoice_xml(syntax="ubl").replace(
        b'<cbc:PriceAmount currencyID="EUR">25.00</cbc:PriceAmount>',
        b'<cbc:PriceAmount currencyID="EUR">250.00</cbc:PriceAmount>'
        b'<cbc:BaseQuantity unitCode="C62">10</cbc:BaseQuantity>',
    )
    read = read_einvoice(parse_einvoice(xml))
    assert read.invoice.line_items[1].unit_price == Decimal("25")


def test_an_unreadable_amount_is_a_finding_not_a_guess() -> None:
    xml = einvoice_xml(syntax="cii").replace(
        b">339.05</ram:GrandTotalAmount>", b">lots</ram:GrandTotalAmount>"
    )
    read = read_einvoice(parse_einvoice(xml))
    assert read.invoice.total is None
    assert [issue.field for issue in read.issues] == ["total"]


def test_a_hand_written_peppol_invoice() -> None:
    read = read_einvoice(parse_einvoice(PEPPOL_UBL))
    invoice = read.invoice
    assert read.specification is not None and "peppol" in read.specification
    assert (invoice.invoice_number, str(invoice.invoice_date), str(invoice.due_date)) == (
        "P-2026-17",
        "2026-10-01",
        "2026-10-31",
    )
    assert invoice.vendor.name == "Nordic Supplies"  # BT-28: there is no BT-27
    assert invoice.vendor.address == "Storgatan 1, 111 22 Stockholm, SE"
    assert invoice.vendor.email == "anna@nordic.example"
    assert invoice.customer.name == "Fjord AS" and invoice.customer.address == "Oslo, NO"
    # BT-110 in the invoice currency, not BT-111 in the VAT currency.
    assert invoice.total_tax == Decimal("22.50")
    assert (invoice.total_discount, invoice.shipping) == (Decimal("10.00"), None)
    assert (invoice.total, invoice.amount_due) == (Decimal("112.50"), Decimal("113.00"))
    assert read.rounding == Decimal("0.50")
    # The first payment means; the IBAN without spaces, upper-cased.
    assert invoice.payment.iban == "SE4550000000058398257466"
    assert invoice.payment.reference == "REF 17"
    [line] = invoice.line_items
    assert line.unit_price == Decimal("5") and line.quantity == Decimal("20")
    assert line.product_code == "4012345678901" and line.unit == "H87"


def test_a_drafthorse_invoice() -> None:
    read = read_einvoice(parse_einvoice(drafthorse_cii()))
    invoice = read.invoice
    assert (invoice.invoice_number, str(invoice.due_date)) == ("DH-1", "2026-12-03")
    assert invoice.vendor.address == "Weg 1, 10115 Berlin, DE"
    assert invoice.vendor.tax_id == "DE123456789"
    assert (invoice.total_tax, invoice.total) == (Decimal("189.81"), Decimal("1188.81"))
    assert invoice.line_items[0].quantity == Decimal("1.0000")
    assert invoice.payment.iban == "DE89370400440532013000"
    assert read.issues == []
