"""E-invoices made in code for tests and the benchmark: sample invoices with several VAT rates,
allowances and charges, a credit note; their UBL and CII XML (the export writer, whose output
the official XSD and Schematron accept, which the tests check); hybrid PDFs whose visible text
layer prints the same values, or planted different ones."""

from __future__ import annotations

import io
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
