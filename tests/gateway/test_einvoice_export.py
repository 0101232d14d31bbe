"""The UBL / CII writer: what it refuses, how it places allowances and charges, and that what it
writes reads back to the same business terms and passes the official checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts import Invoice
from services.extractor.einvoice.read import read_einvoice
from services.extractor.einvoice.standard import schematron_issues, xsd_issues
from services.extractor.einvoice.xml import parse_einvoice
from services.gateway.einvoice_export import (
    Address,
    NotExportableError,
    adjustments,
    export_einvoice,
    split_address,
)
from testkit.einvoices import XRECHNUNG, sample_invoice


def test_lists_what_is_missing() -> None:
    invoice = Invoice(invoice_number="1", total=Decimal("1.00"))
    with pytest.raises(NotExportableError) as caught:
        export_einvoice(invoice, "ubl", None)
    assert caught.value.missing == [
        "invoice_date", "currency", "vendor.name", "vendor.address", "customer.name",
        "customer.address", "subtotal", "total_tax", "amount_due", "tax_details", "line_items",
    ]  # fmt: skip


def test_addresses_split_as_they_were_joined() -> None:
    assert split_address("Ring 5, Gebäude B, 80331 München, DE") == Address(
        ("Ring 5", "Gebäude B"), "80331", "München", "DE"
    )
    assert split_address("Paris, FR") == Address((), None, "Paris", "FR")
    assert split_address(None).country is None


def test_allowances_and_charges_go_to_their_vat_category() -> None:
    found = adjustments(sample_invoice())
    assert [(a.charge, a.amount, a.tax.rate) for a in found] == [
        (True, Decimal("5.00"), Decimal("19")),
        (False, Decimal("10.00"), Decimal("19")),
    ]


def test_parts_that_do_not_place_are_not_exportable() -> None:
    with pytest.raises(NotExportableError):
        export_einvoice(sample_invoice(total_discount="11.00"), "cii", None)


@pytest.mark.parametrize("syntax", ["ubl", "cii"])
@pytest.mark.parametrize("spec", [None, XRECHNUNG])
def test_round_trip_passes_the_standard(syntax: str, spec: str | None) -> None:
    parsed = parse_einvoice(export_einvoice(sample_invoice(), syntax, spec))  # type: ignore[arg-type]
    read = read_einvoice(parsed)
    assert read.invoice == sample_invoice() and read.specification == (
        spec or "urn:cen.eu:en16931:2017"
    )
    assert xsd_issues(parsed) == []
    found = schematron_issues(parsed, factur_x=spec is None)
    assert [i.code for i in found if i.severity == "error"] == []
