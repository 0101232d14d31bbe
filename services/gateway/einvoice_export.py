"""A saved invoice as an EN 16931 e-invoice: UBL 2.1 (Peppol BIS 3 / XRechnung UBL) or UN/CEFACT
CII (Factur-X / ZUGFeRD EN 16931). Elements are written in each schema's order; which invoice
field is which business term is `contracts.einvoice`'s mapping, the one the reader uses.

Document-level allowances (BT-107) and charges (BT-108) are written per VAT category: what
separates each category's line amounts from its taxable amount (BT-116) is that category's
allowance, or its charge; an invoice whose parts cannot be placed that way is not exportable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from lxml import etree

from contracts import Invoice, LineItem, Party, TaxDetail
from contracts.einvoice import (
    CII_NAMESPACES,
    CII_NS,
    EN16931_SPECIFICATION,
    UBL_CREDIT_NOTE_NS,
    UBL_INVOICE_NS,
    UBL_NAMESPACES,
    type_code_of,
)

ExportSyntax = Literal["ubl", "cii"]
_COUNTRY = re.compile(r"^[A-Z]{2}$")
ZERO = Decimal(0)


class NotExportableError(Exception):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = missing


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...]
    postcode: str | None
    city: str | None
    country: str | None


def split_address(address: str | None) -> Address:
    """The reader's "line, line, postcode city, CC" back into its parts."""
    parts = [part.strip() for part in (address or "").split(",") if part.strip()]
    country = parts.pop() if parts and _COUNTRY.match(parts[-1]) else None
    postcode = city = None
    if parts:
        place = parts.pop()
        head, _, tail = place.partition(" ")
        if any(ch.isdigit() for ch in head) and tail:
            postcode, city = head, tail
        elif any(ch.isdigit() for ch in place):
            postcode = place
        else:
            city = place
    return Address(tuple(parts[:3]), postcode, city, country)


@dataclass(frozen=True)
class Adjustment:
    """A document-level allowance (charge=False) or charge of one VAT category."""

    charge: bool
    amount: Decimal
    tax: TaxDetail


def _category(tax: TaxDetail) -> str:
    if tax.category:
        return tax.category
    return "S" if (tax.rate or ZERO) > 0 else "Z"


def _same_rate(line: LineItem, tax: TaxDetail) -> bool:
    return (line.tax_rate or ZERO) == (tax.rate or ZERO)


def adjustments(invoice: Invoice) -> list[Adjustment]:
    """BT-107 and BT-108 split by VAT category so that each category's base adds up."""
    allowance_total = invoice.total_discount or ZERO
    charge_total = invoice.shipping or ZERO
    if not allowance_total and not charge_total:
        return []
    # Each category's lines minus its base: positive where allowances outweigh charges.
    net = [
        (tax, sum((li.amount or ZERO for li in invoice.line_items if _same_rate(li, tax)), ZERO))
        for tax in invoice.tax_details
    ]
    deltas = [(tax, lines - (tax.base or ZERO)) for tax, lines in net]
    if not deltas or sum(delta for _, delta in deltas) != allowance_total - charge_total:
        raise NotExportableError(["tax_details (the allowances and charges per VAT rate)"])
    found: list[Adjustment] = []
    # The charges go with the category whose base they raise most; allowances follow from it.
    charge_at = min(range(len(deltas)), key=lambda i: deltas[i][1]) if charge_total else -1
    for index, (tax, delta) in enumerate(deltas):
        charge = charge_total if index == charge_at else ZERO
        allowance = delta + charge
        if allowance < 0:
            raise NotExportableError(["tax_details (the allowances and charges per VAT rate)"])
        if charge:
            found.append(Adjustment(True, charge, tax))
        if allowance:
            found.append(Adjustment(False, allowance, tax))
    return found


def missing_fields(invoice: Invoice) -> list[str]:
    """What EN 16931 requires and the invoice lacks (the `missing` of a 422 not_exportable)."""
    required: dict[str, object] = {
        "invoice_number": invoice.invoice_number,
        "invoice_date": invoice.invoice_date,
        "currency": invoice.currency,
        "vendor.name": invoice.vendor.name,
        "vendor.address": split_address(invoice.vendor.address).country,
        "customer.name": invoice.customer.name,
        "customer.address": split_address(invoice.customer.address).country,
        "subtotal": invoice.subtotal,
        "total_tax": invoice.total_tax,
        "total": invoice.total,
        "amount_due": invoice.amount_due,
        "tax_details": invoice.tax_details or None,
        "line_items": invoice.line_items or None,
    }
    missing = [name for name, value in required.items() if value is None]
    missing += [
        f"tax_details[{i}].{name}"
        for i, tax in enumerate(invoice.tax_details)
        for name in ("base", "amount")
        if getattr(tax, name) is None
    ]
    missing += [
        f"line_items[{i}].{name}"
        for i, line in enumerate(invoice.line_items)
        for name in ("description", "quantity", "unit_price", "amount")
        if getattr(line, name) is None
    ]
    return missing


def export_einvoice(invoice: Invoice, syntax: ExportSyntax, specification: str | None) -> bytes:
    missing = missing_fields(invoice)
    if missing:
        raise NotExportableError(missing)
    found = adjustments(invoice)
    root = (
        _ubl(invoice, specification, found)
        if syntax == "ubl"
        else _cii(invoice, specification, found)
    )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _money(value: Decimal | None) -> str:
    return format(value if value is not None else ZERO, "f")


def _builder(element: etree._Element, namespaces: dict[str, str]) -> Callable[..., etree._Element]:
    def add(parent: etree._Element, name: str, text: object = None, **attrs: str) -> etree._Element:
        prefix, local = name.split(":")
        child = etree.SubElement(parent, f"{{{namespaces[prefix]}}}{local}", attrs)
        if text is not None:
            child.text = text if isinstance(text, str) else _text(text)
        return child

    return add


def _text(value: object) -> str:
    return _money(value) if isinstance(value, Decimal) else str(value)


# --- UBL 2.1 ---------------------------------------------------------------------------------


def _ubl(invoice: Invoice, specification: str | None, found: list[Adjustment]) -> etree._Element:
    credit = invoice.document_type == "credit_note"
    namespace = UBL_CREDIT_NOTE_NS if credit else UBL_INVOICE_NS
    root_name = "CreditNote" if credit else "Invoice"
    root = etree.Element(f"{{{namespace}}}{root_name}", nsmap={None: namespace, **UBL_NAMESPACES})
    add = _builder(root, UBL_NAMESPACES)
    currency = invoice.currency or ""
    amount = {"currencyID": currency}
    add(root, "cbc:CustomizationID", specification or EN16931_SPECIFICATION)
    add(root, "cbc:ID", invoice.invoice_number)
    add(root, "cbc:IssueDate", invoice.invoice_date)
    if invoice.due_date is not None and not credit:
        add(root, "cbc:DueDate", invoice.due_date)
    add(
        root,
        "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode",
        type_code_of(invoice.document_type),
    )
    add(root, "cbc:DocumentCurrencyCode", currency)
    if invoice.buyer_reference:
        add(root, "cbc:BuyerReference", invoice.buyer_reference)
    if invoice.purchase_order:
        add(add(root, "cac:OrderReference"), "cbc:ID", invoice.purchase_order)
    _ubl_party(add, add(root, "cac:AccountingSupplierParty"), invoice.vendor)
    _ubl_party(add, add(root, "cac:AccountingCustomerParty"), invoice.customer)
    payment = invoice.payment
    if payment.iban or payment.reference or (credit and invoice.due_date):
        means = add(root, "cac:PaymentMeans")
        add(means, "cbc:PaymentMeansCode", "58" if payment.iban else "1")
        if credit and invoice.due_date is not None:
            add(means, "cbc:PaymentDueDate", invoice.due_date)
        if payment.reference:
            add(means, "cbc:PaymentID", payment.reference)
        if payment.iban:
            account = add(means, "cac:PayeeFinancialAccount")
            add(account, "cbc:ID", payment.iban)
            if payment.bic:
                add(add(account, "cac:FinancialInstitutionBranch"), "cbc:ID", payment.bic)
    if invoice.payment_terms:
        add(add(root, "cac:PaymentTerms"), "cbc:Note", invoice.payment_terms)
    for adjustment in found:
        charge = add(root, "cac:AllowanceCharge")
        add(charge, "cbc:ChargeIndicator", "true" if adjustment.charge else "false")
        add(charge, "cbc:AllowanceChargeReason", "Charge" if adjustment.charge else "Discount")
        add(charge, "cbc:Amount", adjustment.amount, **amount)
        _ubl_category(
            add, add(charge, "cac:TaxCategory"), adjustment.tax.rate, _category(adjustment.tax)
        )
    total = add(root, "cac:TaxTotal")
    add(total, "cbc:TaxAmount", invoice.total_tax, **amount)
    for tax in invoice.tax_details:
        sub = add(total, "cac:TaxSubtotal")
        add(sub, "cbc:TaxableAmount", tax.base, **amount)
        add(sub, "cbc:TaxAmount", tax.amount, **amount)
        _ubl_category(add, add(sub, "cac:TaxCategory"), tax.rate, _category(tax))
    sums = add(root, "cac:LegalMonetaryTotal")
    add(sums, "cbc:LineExtensionAmount", invoice.subtotal, **amount)
    add(sums, "cbc:TaxExclusiveAmount", _tax_basis(invoice), **amount)
    add(sums, "cbc:TaxInclusiveAmount", invoice.total, **amount)
    if invoice.total_discount is not None:
        add(sums, "cbc:AllowanceTotalAmount", invoice.total_discount, **amount)
    if invoice.shipping is not None:
        add(sums, "cbc:ChargeTotalAmount", invoice.shipping, **amount)
    if invoice.amount_paid is not None:
        add(sums, "cbc:PrepaidAmount", invoice.amount_paid, **amount)
    add(sums, "cbc:PayableAmount", invoice.amount_due, **amount)
    for index, line in enumerate(invoice.line_items):
        _ubl_line(add, root, index, line, credit, invoice)
    return root


def _tax_basis(invoice: Invoice) -> Decimal:
    """BT-109 = BT-106 − BT-107 + BT-108."""
    return (
        (invoice.subtotal or ZERO) - (invoice.total_discount or ZERO) + (invoice.shipping or ZERO)
    )


def _ubl_category(
    add: Callable[..., etree._Element], parent: etree._Element, rate: Decimal | None, code: str
) -> None:
    add(parent, "cbc:ID", code)
    if code != "O":
        add(parent, "cbc:Percent", rate if rate is not None else ZERO)
    add(add(parent, "cac:TaxScheme"), "cbc:ID", "VAT")


def _ubl_party(add: Callable[..., etree._Element], holder: etree._Element, party: Party) -> None:
    element = add(holder, "cac:Party")
    address = split_address(party.address)
    postal = add(element, "cac:PostalAddress")
    names = ("cbc:StreetName", "cbc:AdditionalStreetName")
    for name, line in zip(names, address.lines, strict=False):
        add(postal, name, line)
    if address.city:
        add(postal, "cbc:CityName", address.city)
    if address.postcode:
        add(postal, "cbc:PostalZone", address.postcode)
    if len(address.lines) > 2:
        add(add(postal, "cac:AddressLine"), "cbc:Line", address.lines[2])
    add(add(postal, "cac:Country"), "cbc:IdentificationCode", address.country)
    if party.tax_id:
        scheme = add(element, "cac:PartyTaxScheme")
        add(scheme, "cbc:CompanyID", party.tax_id)
        add(add(scheme, "cac:TaxScheme"), "cbc:ID", "VAT")
    add(add(element, "cac:PartyLegalEntity"), "cbc:RegistrationName", party.name)
    if party.phone or party.email:
        contact = add(element, "cac:Contact")
        if party.phone:
            add(contact, "cbc:Telephone", party.phone)
        if party.email:
            add(contact, "cbc:ElectronicMail", party.email)


def _ubl_line(
    add: Callable[..., etree._Element],
    root: etree._Element,
    index: int,
    line: LineItem,
    credit: bool,
    invoice: Invoice,
) -> None:
    amount = {"currencyID": invoice.currency or ""}
    element = add(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
    add(element, "cbc:ID", str(index + 1))
    quantity = add(
        element, "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity", line.quantity
    )
    quantity.set("unitCode", line.unit or "C62")
    add(element, "cbc:LineExtensionAmount", line.amount, **amount)
    item = add(element, "cac:Item")
    add(item, "cbc:Name", line.description)
    if line.product_code:
        add(add(item, "cac:SellersItemIdentification"), "cbc:ID", line.product_code)
    tax = next((t for t in invoice.tax_details if _same_rate(line, t)), None)
    code = _category(tax) if tax is not None else _category(TaxDetail(rate=line.tax_rate))
    _ubl_category(add, add(item, "cac:ClassifiedTaxCategory"), line.tax_rate, code)
    add(add(element, "cac:Price"), "cbc:PriceAmount", line.unit_price, **amount)


# --- UN/CEFACT CII ---------------------------------------------------------------------------


def _cii_date(
    add: Callable[..., etree._Element], parent: etree._Element, name: str, value: object
) -> None:
    holder = add(parent, name)
    add(holder, "udt:DateTimeString", str(value).replace("-", ""), format="102")


def _cii(invoice: Invoice, specification: str | None, found: list[Adjustment]) -> etree._Element:
    root = etree.Element(f"{{{CII_NS}}}CrossIndustryInvoice", nsmap=dict(CII_NAMESPACES))
    add = _builder(root, CII_NAMESPACES)
    context = add(root, "rsm:ExchangedDocumentContext")
    add(
        add(context, "ram:GuidelineSpecifiedDocumentContextParameter"),
        "ram:ID",
        specification or EN16931_SPECIFICATION,
    )
    document = add(root, "rsm:ExchangedDocument")
    add(document, "ram:ID", invoice.invoice_number)
    add(document, "ram:TypeCode", type_code_of(invoice.document_type))
    _cii_date(add, document, "ram:IssueDateTime", invoice.invoice_date)
    tx = add(root, "rsm:SupplyChainTradeTransaction")
    for index, line in enumerate(invoice.line_items):
        _cii_line(add, tx, index, line, invoice)
    agreement = add(tx, "ram:ApplicableHeaderTradeAgreement")
    if invoice.buyer_reference:
        add(agreement, "ram:BuyerReference", invoice.buyer_reference)
    _cii_party(add, add(agreement, "ram:SellerTradeParty"), invoice.vendor)
    _cii_party(add, add(agreement, "ram:BuyerTradeParty"), invoice.customer)
    if invoice.purchase_order:
        order = add(agreement, "ram:BuyerOrderReferencedDocument")
        add(order, "ram:IssuerAssignedID", invoice.purchase_order)
    add(tx, "ram:ApplicableHeaderTradeDelivery")
    settlement = add(tx, "ram:ApplicableHeaderTradeSettlement")
    payment = invoice.payment
    if payment.reference:
        add(settlement, "ram:PaymentReference", payment.reference)
    add(settlement, "ram:InvoiceCurrencyCode", invoice.currency)
    if payment.iban:
        means = add(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        add(means, "ram:TypeCode", "58")
        add(add(means, "ram:PayeePartyCreditorFinancialAccount"), "ram:IBANID", payment.iban)
        if payment.bic:
            bank = add(means, "ram:PayeeSpecifiedCreditorFinancialInstitution")
            add(bank, "ram:BICID", payment.bic)
    for tax in invoice.tax_details:
        element = add(settlement, "ram:ApplicableTradeTax")
        add(element, "ram:CalculatedAmount", tax.amount)
        add(element, "ram:TypeCode", "VAT")
        add(element, "ram:BasisAmount", tax.base)
        add(element, "ram:CategoryCode", _category(tax))
        if _category(tax) != "O":
            add(element, "ram:RateApplicablePercent", tax.rate if tax.rate is not None else ZERO)
    for adjustment in found:
        charge = add(settlement, "ram:SpecifiedTradeAllowanceCharge")
        add(
            add(charge, "ram:ChargeIndicator"),
            "udt:Indicator",
            "true" if adjustment.charge else "false",
        )
        add(charge, "ram:ActualAmount", adjustment.amount)
        add(charge, "ram:Reason", "Charge" if adjustment.charge else "Discount")
        category = add(charge, "ram:CategoryTradeTax")
        add(category, "ram:TypeCode", "VAT")
        add(category, "ram:CategoryCode", _category(adjustment.tax))
        if _category(adjustment.tax) != "O":
            add(category, "ram:RateApplicablePercent", adjustment.tax.rate or ZERO)
    if invoice.payment_terms or invoice.due_date:
        terms = add(settlement, "ram:SpecifiedTradePaymentTerms")
        if invoice.payment_terms:
            add(terms, "ram:Description", invoice.payment_terms)
        if invoice.due_date:
            _cii_date(add, terms, "ram:DueDateDateTime", invoice.due_date)
    sums = add(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    add(sums, "ram:LineTotalAmount", invoice.subtotal)
    if invoice.shipping is not None:
        add(sums, "ram:ChargeTotalAmount", invoice.shipping)
    if invoice.total_discount is not None:
        add(sums, "ram:AllowanceTotalAmount", invoice.total_discount)
    add(sums, "ram:TaxBasisTotalAmount", _tax_basis(invoice))
    add(sums, "ram:TaxTotalAmount", invoice.total_tax, currencyID=invoice.currency or "")
    add(sums, "ram:GrandTotalAmount", invoice.total)
    if invoice.amount_paid is not None:
        add(sums, "ram:TotalPrepaidAmount", invoice.amount_paid)
    add(sums, "ram:DuePayableAmount", invoice.amount_due)
    return root


def _cii_party(add: Callable[..., etree._Element], element: etree._Element, party: Party) -> None:
    add(element, "ram:Name", party.name)
    if party.phone or party.email:
        contact = add(element, "ram:DefinedTradeContact")
        if party.phone:
            add(
                add(contact, "ram:TelephoneUniversalCommunication"),
                "ram:CompleteNumber",
                party.phone,
            )
        if party.email:
            add(add(contact, "ram:EmailURIUniversalCommunication"), "ram:URIID", party.email)
    address = split_address(party.address)
    postal = add(element, "ram:PostalTradeAddress")
    if address.postcode:
        add(postal, "ram:PostcodeCode", address.postcode)
    for name, line in zip(
        ("ram:LineOne", "ram:LineTwo", "ram:LineThree"), address.lines, strict=False
    ):
        add(postal, name, line)
    if address.city:
        add(postal, "ram:CityName", address.city)
    add(postal, "ram:CountryID", address.country)
    if party.tax_id:
        add(add(element, "ram:SpecifiedTaxRegistration"), "ram:ID", party.tax_id, schemeID="VA")


def _cii_line(
    add: Callable[..., etree._Element],
    tx: etree._Element,
    index: int,
    line: LineItem,
    invoice: Invoice,
) -> None:
    element = add(tx, "ram:IncludedSupplyChainTradeLineItem")
    add(add(element, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(index + 1))
    product = add(element, "ram:SpecifiedTradeProduct")
    if line.product_code:
        add(product, "ram:SellerAssignedID", line.product_code)
    add(product, "ram:Name", line.description)
    agreement = add(element, "ram:SpecifiedLineTradeAgreement")
    add(add(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", line.unit_price)
    delivery = add(element, "ram:SpecifiedLineTradeDelivery")
    add(delivery, "ram:BilledQuantity", line.quantity, unitCode=line.unit or "C62")
    settlement = add(element, "ram:SpecifiedLineTradeSettlement")
    tax = next((t for t in invoice.tax_details if _same_rate(line, t)), None)
    code = _category(tax) if tax is not None else _category(TaxDetail(rate=line.tax_rate))
    trade_tax = add(settlement, "ram:ApplicableTradeTax")
    add(trade_tax, "ram:TypeCode", "VAT")
    add(trade_tax, "ram:CategoryCode", code)
    if code != "O":
        add(
            trade_tax,
            "ram:RateApplicablePercent",
            line.tax_rate if line.tax_rate is not None else ZERO,
        )
    summation = add(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    add(summation, "ram:LineTotalAmount", line.amount)
