"""E-invoices made in code for tests and the benchmark: sample invoices with several VAT rates,
allowances and charges, a credit note; their UBL and CII XML (the export writer, whose output
the official XSD and Schematron accept, which the tests check); hybrid PDFs whose visible text
layer prints the same values, or planted different ones."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Literal

from pypdf import PdfReader, PdfWriter

from contracts import Invoice
from services.gateway.einvoice_export import export_einvoice
from testkit.documents import text_pdf

XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"


def sample_invoice(**changes: Any) -> Invoice:
    """Two VAT rates (19 % and 7 %), a discount and a charge; it all adds up to the cent."""
    data: dict[str, Any] = {
        "document_type": "invoice",
        "invoice_number": "RE-2026-0042",
        "invoice_date": "2026-11-30",
        "due_date": "2026-12-30",
        "currency": "EUR",
        "buyer_reference": "04011000-12345-34",
        "purchase_order": "PO-77",
        "payment_terms": "30 Tage netto",
        "vendor": {
            "name": "Muster GmbH",
            "address": "Hauptstr. 1, 10115 Berlin, DE",
            "tax_id": "DE123456789",
            "email": "rechnung@muster.de",
            "phone": "+49 30 1234567",
        },
        "customer": {
            "name": "Kunde AG",
            "address": "Ring 5, Gebäude B, 80331 München, DE",
            "tax_id": "DE987654321",
        },
        "payment": {
            "iban": "DE89370400440532013000",
            "bic": "COBADEFFXXX",
            "reference": "RE-2026-0042",
        },
        "subtotal": "300.00",
        "total_discount": "10.00",
        "shipping": "5.00",
        "total_tax": "44.05",
        "total": "339.05",
        "amount_due": "339.05",
        "tax_details": [
            {"rate": "19", "base": "195.00", "amount": "37.05", "category": "S"},
            {"rate": "7", "base": "100.00", "amount": "7.00", "category": "S"},
        ],
        "line_items": [
            {
                "description": "Beratung",
                "quantity": "2",
                "unit": "HUR",
                "unit_price": "100.00",
                "tax_rate": "19",
                "amount": "200.00",
                "product_code": "B-1",
            },
            {
                "description": "Fachbuch",
                "quantity": "4",
                "unit": "C62",
                "unit_price": "25.00",
                "tax_rate": "7",
                "amount": "100.00",
                "product_code": "978-3-16-148410-0",
            },
        ],
    }
    data.update(changes)
    return Invoice.model_validate(data)


def sample_credit_note() -> Invoice:
    return sample_invoice(
        document_type="credit_note",
        invoice_number="GS-2026-0007",
        total_discount=None,
        shipping=None,
        subtotal="100.00",
        total_tax="7.00",
        total="107.00",
        amount_due="107.00",
        tax_details=[{"rate": "7", "base": "100.00", "amount": "7.00", "category": "S"}],
        line_items=[
            {
                "description": "Rücknahme Fachbuch",
                "quantity": "4",
                "unit": "C62",
                "unit_price": "25.00",
                "tax_rate": "7",
                "amount": "100.00",
            }
        ],
    )


def einvoice_xml(
    invoice: Invoice | None = None,
    syntax: Literal["ubl", "cii"] = "cii",
    specification: str | None = None,
) -> bytes:
    return export_einvoice(invoice or sample_invoice(), syntax, specification)


def visible_lines(invoice: Invoice) -> list[str]:
    """What the PDF prints of the invoice: the key values, formatted as a German invoice would."""
    iban = invoice.payment.iban or ""
    date = invoice.invoice_date
    due = invoice.due_date
    return [
        invoice.vendor.name or "",
        f"Rechnung Nr. {invoice.invoice_number}",
        f"Datum: {date:%d.%m.%Y}" if date else "",
        f"Faellig am: {due:%d.%m.%Y}" if due else "",
        f"Gesamtbetrag: {invoice.total} EUR",
        f"Zu zahlen: {invoice.amount_due} EUR",
        f"IBAN: {' '.join(iban[i : i + 4] for i in range(0, len(iban), 4))}",
    ]


def hybrid_pdf(
    xml: bytes, lines: list[str], *, attachment: str = "factur-x.xml", facturx: bool = True
) -> bytes:
    """A PDF whose text layer prints `lines`, carrying `xml`: as Factur-X (the factur-x library:
    PDF/A-3 attachment and /AF) or plainly attached under `attachment`."""
    pdf = text_pdf([lines])
    if facturx and attachment == "factur-x.xml":
        from facturx import generate_from_binary

        return bytes(generate_from_binary(pdf, xml, check_xsd=False))
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_attachment(attachment, xml)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def drafthorse_cii() -> bytes:
    """A CII EN 16931 invoice made by another library (drafthorse), not by our writer."""
    import datetime as dt

    from drafthorse.models.document import Document
    from drafthorse.models.party import TaxRegistration

    doc = Document()
    doc.context.guideline_parameter.id = "urn:cen.eu:en16931:2017"
    doc.header.id = "DH-1"
    doc.header.type_code = "380"
    doc.header.issue_date_time = dt.date(2026, 11, 3)
    seller = doc.trade.agreement.seller
    seller.name = "Lieferant GmbH"
    seller.address.line_one = "Weg 1"
    seller.address.postcode = "10115"
    seller.address.city_name = "Berlin"
    seller.address.country_id = "DE"
    seller.tax_registrations.add(TaxRegistration(id=("VA", "DE123456789")))
    doc.trade.agreement.buyer.name = "Kunde GmbH"
    doc.trade.agreement.buyer.address.country_id = "DE"
    _drafthorse_settlement(doc)
    return bytes(doc.serialize(schema="FACTUR-X_EN16931"))


def _drafthorse_settlement(doc: Any) -> None:
    import datetime as dt
    from decimal import Decimal

    from drafthorse.models.accounting import ApplicableTradeTax
    from drafthorse.models.payment import PaymentMeans, PaymentTerms
    from drafthorse.models.tradelines import LineItem

    doc.trade.settlement.currency_code = "EUR"
    means = PaymentMeans()
    means.type_code = "58"
    means.payee_account.iban = "DE89370400440532013000"
    doc.trade.settlement.payment_means.add(means)
    line = LineItem()
    line.document.line_id = "1"
    line.product.name = "Rainbow"
    line.agreement.net.amount = Decimal("999.00")
    line.delivery.billed_quantity = (Decimal("1.0000"), "H87")
    line.settlement.trade_tax.type_code = "VAT"
    line.settlement.trade_tax.category_code = "S"
    line.settlement.trade_tax.rate_applicable_percent = Decimal("19.00")
    line.settlement.monetary_summation.total_amount = Decimal("999.00")
    doc.trade.items.add(line)
    tax = ApplicableTradeTax()
    tax.calculated_amount = Decimal("189.81")
    tax.basis_amount = Decimal("999.00")
    tax.type_code = "VAT"
    tax.category_code = "S"
    tax.rate_applicable_percent = Decimal("19.00")
    doc.trade.settlement.trade_tax.add(tax)
    sums = doc.trade.settlement.monetary_summation
    sums.line_total = Decimal("999.00")
    sums.charge_total = Decimal("0.00")
    sums.allowance_total = Decimal("0.00")
    sums.tax_basis_total = Decimal("999.00")
    sums.tax_total = (Decimal("189.81"), "EUR")
    sums.grand_total = Decimal("1188.81")
    sums.due_amount = Decimal("1188.81")
    terms = PaymentTerms()
    terms.due = dt.date(2026, 12, 3)
    doc.trade.settlement.terms.add(terms)


# A Peppol BIS 3 style UBL invoice written by hand, not by our writer: only a trading name for
# the seller (BT-28), a document-level allowance, the VAT total also in the VAT currency (BT-111),
# a price per 10 pieces (BT-149), a GTIN only (BT-157), two payment means, a rounding amount.
PEPPOL_UBL = (Path(__file__).parent / "einvoice_samples" / "peppol-bis3-invoice.xml").read_bytes()
