"""A saved invoice as an EN 16931 e-invoice: UBL 2.1 (Peppol BIS 3 / XRechnung UBL) or UN/CEFACT
CII (Factur-X / ZUGFeRD EN 16931). Elements are written in each schema's order; which invoice
field is which business term is `contracts.einvoice`'s mapping, the one the reader uses.

Document-level allowances (BT-107) and charges (BT-108) are written per VAT category: what
separates each category's line amounts from its taxable amount (BT-116) is that category's
allowance, or its charge; an invoice whose parts cannot be placed that way is not exportable.
"""

from __future__ import annotations

import re
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
    # Each category gets its net as an allowance (delta > 0) or a charge (delta < 0); what the
    # totals hold beyond that is an allowance and a charge of the same amount, placed with the
    # category whose allowance is largest.
    extra = allowance_total - sum((max(delta, ZERO) for _, delta in deltas), ZERO)
    if extra < 0:
        raise NotExportableError(["tax_details (the allowances and charges per VAT rate)"])
    extra_at = max(range(len(deltas)), key=lambda i: deltas[i][1])
    found: list[Adjustment] = []
    for index, (tax, delta) in enumerate(deltas):
        more = extra if index == extra_at else ZERO
        charge, allowance = max(-delta, ZERO) + more, max(delta, ZERO) + more
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
    writer = _Ubl(invoice, found) if syntax == "ubl" else _Cii(invoice, found)
    root = writer.write(specification or EN16931_SPECIFICATION)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _tax_basis(invoice: Invoice) -> Decimal:
    """BT-109 = BT-106 − BT-107 + BT-108."""
    return (
        (invoice.subtotal or ZERO) - (invoice.total_discount or ZERO) + (invoice.shipping or ZERO)
    )


def _line_category(invoice: Invoice, line: LineItem) -> str:
    tax = next((t for t in invoice.tax_details if _same_rate(line, t)), None)
    return _category(tax if tax is not None else TaxDetail(rate=line.tax_rate))


class _Writer:
    namespaces: dict[str, str]

    def __init__(self, invoice: Invoice, found: list[Adjustment]) -> None:
        self.invoice = invoice
        self.found = found
        self.credit = invoice.document_type == "credit_note"
        self.currency = invoice.currency or ""

    def add(
        self, parent: etree._Element, name: str, text: object = None, **attrs: str
    ) -> etree._Element:
        prefix, local = name.split(":")
        child = etree.SubElement(parent, f"{{{self.namespaces[prefix]}}}{local}", attrs)
        if text is not None:
            child.text = _text(text)
        return child

    def opt(self, parent: etree._Element, name: str, value: object, **attrs: str) -> None:
        """`add`, only when there is a value."""
        if value is not None and value != "":
            self.add(parent, name, value, **attrs)

    def path(self, parent: etree._Element, names: str, value: object = None) -> etree._Element:
        """A chain of elements ("cac:A/cbc:B"), the last holding `value`."""
        *outer, last = names.split("/")
        for name in outer:
            parent = self.add(parent, name)
        return self.add(parent, last, value)


# --- UBL 2.1 ---------------------------------------------------------------------------------


class _Ubl(_Writer):
    namespaces = UBL_NAMESPACES

    def money(self, parent: etree._Element, name: str, value: Decimal | None) -> None:
        self.opt(parent, name, value, currencyID=self.currency)

    def write(self, specification: str) -> etree._Element:
        invoice, credit = self.invoice, self.credit
        namespace = UBL_CREDIT_NOTE_NS if credit else UBL_INVOICE_NS
        root = etree.Element(
            f"{{{namespace}}}{'CreditNote' if credit else 'Invoice'}",
            nsmap={None: namespace, **UBL_NAMESPACES},  # type: ignore[dict-item]
        )
        self.add(root, "cbc:CustomizationID", specification)
        self.add(root, "cbc:ID", invoice.invoice_number)
        self.add(root, "cbc:IssueDate", invoice.invoice_date)
        if not credit:
            self.opt(root, "cbc:DueDate", invoice.due_date)
        code = "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"
        self.add(root, code, type_code_of(invoice.document_type))
        self.add(root, "cbc:DocumentCurrencyCode", self.currency)
        self.opt(root, "cbc:BuyerReference", invoice.buyer_reference)
        if invoice.purchase_order:
            self.path(root, "cac:OrderReference/cbc:ID", invoice.purchase_order)
        self.party(self.add(root, "cac:AccountingSupplierParty"), invoice.vendor)
        self.party(self.add(root, "cac:AccountingCustomerParty"), invoice.customer)
        self.payment(root)
        if invoice.payment_terms:
            self.path(root, "cac:PaymentTerms/cbc:Note", invoice.payment_terms)
        self.adjustments(root)
        self.taxes(root)
        self.totals(root)
        for index, line in enumerate(invoice.line_items):
            self.line(root, index, line)
        return root

    def payment(self, root: etree._Element) -> None:
        payment, due = self.invoice.payment, self.invoice.due_date if self.credit else None
        if not (payment.iban or payment.reference or due):
            return
        means = self.add(root, "cac:PaymentMeans")
        self.add(means, "cbc:PaymentMeansCode", "58" if payment.iban else "1")
        self.opt(means, "cbc:PaymentDueDate", due)
        self.opt(means, "cbc:PaymentID", payment.reference)
        if payment.iban:
            account = self.add(means, "cac:PayeeFinancialAccount")
            self.add(account, "cbc:ID", payment.iban)
            if payment.bic:
                self.path(account, "cac:FinancialInstitutionBranch/cbc:ID", payment.bic)

    def adjustments(self, root: etree._Element) -> None:
        for adjustment in self.found:
            charge = self.add(root, "cac:AllowanceCharge")
            self.add(charge, "cbc:ChargeIndicator", "true" if adjustment.charge else "false")
            reason = "Charge" if adjustment.charge else "Discount"
            self.add(charge, "cbc:AllowanceChargeReason", reason)
            self.money(charge, "cbc:Amount", adjustment.amount)
            tax = adjustment.tax
            self.category(self.add(charge, "cac:TaxCategory"), tax.rate, _category(tax))

    def taxes(self, root: etree._Element) -> None:
        total = self.add(root, "cac:TaxTotal")
        self.money(total, "cbc:TaxAmount", self.invoice.total_tax)
        for tax in self.invoice.tax_details:
            sub = self.add(total, "cac:TaxSubtotal")
            self.money(sub, "cbc:TaxableAmount", tax.base)
            self.money(sub, "cbc:TaxAmount", tax.amount)
            self.category(self.add(sub, "cac:TaxCategory"), tax.rate, _category(tax))

    def totals(self, root: etree._Element) -> None:
        invoice = self.invoice
        sums = self.add(root, "cac:LegalMonetaryTotal")
        self.money(sums, "cbc:LineExtensionAmount", invoice.subtotal)
        self.money(sums, "cbc:TaxExclusiveAmount", _tax_basis(invoice))
        self.money(sums, "cbc:TaxInclusiveAmount", invoice.total)
        self.money(sums, "cbc:AllowanceTotalAmount", invoice.total_discount)
        self.money(sums, "cbc:ChargeTotalAmount", invoice.shipping)
        self.money(sums, "cbc:PrepaidAmount", invoice.amount_paid)
        self.money(sums, "cbc:PayableAmount", invoice.amount_due)

    def category(self, parent: etree._Element, rate: Decimal | None, code: str) -> None:
        self.add(parent, "cbc:ID", code)
        if code != "O":
            self.add(parent, "cbc:Percent", rate if rate is not None else ZERO)
        self.path(parent, "cac:TaxScheme/cbc:ID", "VAT")

    def party(self, holder: etree._Element, party: Party) -> None:
        element = self.add(holder, "cac:Party")
        address = split_address(party.address)
        postal = self.add(element, "cac:PostalAddress")
        lines = [*address.lines, None, None, None]
        self.opt(postal, "cbc:StreetName", lines[0])
        self.opt(postal, "cbc:AdditionalStreetName", lines[1])
        self.opt(postal, "cbc:CityName", address.city)
        self.opt(postal, "cbc:PostalZone", address.postcode)
        if lines[2]:
            self.path(postal, "cac:AddressLine/cbc:Line", lines[2])
        self.path(postal, "cac:Country/cbc:IdentificationCode", address.country)
        if party.tax_id:
            scheme = self.add(element, "cac:PartyTaxScheme")
            self.add(scheme, "cbc:CompanyID", party.tax_id)
            self.path(scheme, "cac:TaxScheme/cbc:ID", "VAT")
        self.path(element, "cac:PartyLegalEntity/cbc:RegistrationName", party.name)
        if party.phone or party.email:
            contact = self.add(element, "cac:Contact")
            self.opt(contact, "cbc:Telephone", party.phone)
            self.opt(contact, "cbc:ElectronicMail", party.email)

    def line(self, root: etree._Element, index: int, line: LineItem) -> None:
        credit = self.credit
        element = self.add(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
        self.add(element, "cbc:ID", str(index + 1))
        quantity = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
        self.add(element, quantity, line.quantity, unitCode=line.unit or "C62")
        self.money(element, "cbc:LineExtensionAmount", line.amount)
        item = self.add(element, "cac:Item")
        self.add(item, "cbc:Name", line.description)
        if line.product_code:
            self.path(item, "cac:SellersItemIdentification/cbc:ID", line.product_code)
        code = _line_category(self.invoice, line)
        self.category(self.add(item, "cac:ClassifiedTaxCategory"), line.tax_rate, code)
        self.money(self.add(element, "cac:Price"), "cbc:PriceAmount", line.unit_price)


# --- UN/CEFACT CII ---------------------------------------------------------------------------


class _Cii(_Writer):
    namespaces = CII_NAMESPACES

    def date(self, parent: etree._Element, name: str, value: object) -> None:
        holder = self.add(parent, name)
        self.add(holder, "udt:DateTimeString", str(value).replace("-", ""), format="102")

    def write(self, specification: str) -> etree._Element:
        invoice = self.invoice
        root = etree.Element(f"{{{CII_NS}}}CrossIndustryInvoice", nsmap=dict(CII_NAMESPACES))
        context = self.add(root, "rsm:ExchangedDocumentContext")
        self.path(context, "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", specification)
        document = self.add(root, "rsm:ExchangedDocument")
        self.add(document, "ram:ID", invoice.invoice_number)
        self.add(document, "ram:TypeCode", type_code_of(invoice.document_type))
        self.date(document, "ram:IssueDateTime", invoice.invoice_date)
        tx = self.add(root, "rsm:SupplyChainTradeTransaction")
        for index, line in enumerate(invoice.line_items):
            self.line(tx, index, line)
        agreement = self.add(tx, "ram:ApplicableHeaderTradeAgreement")
        self.opt(agreement, "ram:BuyerReference", invoice.buyer_reference)
        self.party(self.add(agreement, "ram:SellerTradeParty"), invoice.vendor)
        self.party(self.add(agreement, "ram:BuyerTradeParty"), invoice.customer)
        if invoice.purchase_order:
            order = "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"
            self.path(agreement, order, invoice.purchase_order)
        self.add(tx, "ram:ApplicableHeaderTradeDelivery")
        self.settlement(self.add(tx, "ram:ApplicableHeaderTradeSettlement"))
        return root

    def settlement(self, settlement: etree._Element) -> None:
        invoice, payment = self.invoice, self.invoice.payment
        self.opt(settlement, "ram:PaymentReference", payment.reference)
        self.add(settlement, "ram:InvoiceCurrencyCode", self.currency)
        if payment.iban:
            means = self.add(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
            self.add(means, "ram:TypeCode", "58")
            self.path(means, "ram:PayeePartyCreditorFinancialAccount/ram:IBANID", payment.iban)
            if payment.bic:
                bank = "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"
                self.path(means, bank, payment.bic)
        for tax in invoice.tax_details:
            element = self.add(settlement, "ram:ApplicableTradeTax")
            self.add(element, "ram:CalculatedAmount", tax.amount)
            self.add(element, "ram:TypeCode", "VAT")
            self.add(element, "ram:BasisAmount", tax.base)
            self.rate(element, tax.rate, _category(tax))
        self.adjustments(settlement)
        if invoice.payment_terms or invoice.due_date:
            terms = self.add(settlement, "ram:SpecifiedTradePaymentTerms")
            self.opt(terms, "ram:Description", invoice.payment_terms)
            if invoice.due_date:
                self.date(terms, "ram:DueDateDateTime", invoice.due_date)
        self.totals(settlement)

    def rate(self, parent: etree._Element, rate: Decimal | None, code: str) -> None:
        self.add(parent, "ram:CategoryCode", code)
        if code != "O":
            self.add(parent, "ram:RateApplicablePercent", rate if rate is not None else ZERO)

    def adjustments(self, settlement: etree._Element) -> None:
        for adjustment in self.found:
            charge = self.add(settlement, "ram:SpecifiedTradeAllowanceCharge")
            indicator = "true" if adjustment.charge else "false"
            self.path(charge, "ram:ChargeIndicator/udt:Indicator", indicator)
            self.add(charge, "ram:ActualAmount", adjustment.amount)
            self.add(charge, "ram:Reason", "Charge" if adjustment.charge else "Discount")
            category = self.add(charge, "ram:CategoryTradeTax")
            self.add(category, "ram:TypeCode", "VAT")
            self.rate(category, adjustment.tax.rate, _category(adjustment.tax))

    def totals(self, settlement: etree._Element) -> None:
        invoice = self.invoice
        sums = self.add(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
        self.add(sums, "ram:LineTotalAmount", invoice.subtotal)
        self.opt(sums, "ram:ChargeTotalAmount", invoice.shipping)
        self.opt(sums, "ram:AllowanceTotalAmount", invoice.total_discount)
        self.add(sums, "ram:TaxBasisTotalAmount", _tax_basis(invoice))
        self.add(sums, "ram:TaxTotalAmount", invoice.total_tax, currencyID=self.currency)
        self.add(sums, "ram:GrandTotalAmount", invoice.total)
        self.opt(sums, "ram:TotalPrepaidAmount", invoice.amount_paid)
        self.add(sums, "ram:DuePayableAmount", invoice.amount_due)

    def party(self, element: etree._Element, party: Party) -> None:
        self.add(element, "ram:Name", party.name)
        if party.phone or party.email:
            contact = self.add(element, "ram:DefinedTradeContact")
            if party.phone:
                phone = "ram:TelephoneUniversalCommunication/ram:CompleteNumber"
                self.path(contact, phone, party.phone)
            if party.email:
                self.path(contact, "ram:EmailURIUniversalCommunication/ram:URIID", party.email)
        address = split_address(party.address)
        postal = self.add(element, "ram:PostalTradeAddress")
        self.opt(postal, "ram:PostcodeCode", address.postcode)
        names = ("ram:LineOne", "ram:LineTwo", "ram:LineThree")
        for name, text in zip(names, address.lines, strict=False):
            self.add(postal, name, text)
        self.opt(postal, "ram:CityName", address.city)
        self.add(postal, "ram:CountryID", address.country)
        if party.tax_id:
            registration = self.add(element, "ram:SpecifiedTaxRegistration")
            self.add(registration, "ram:ID", party.tax_id, schemeID="VA")

    def line(self, tx: etree._Element, index: int, line: LineItem) -> None:
        element = self.add(tx, "ram:IncludedSupplyChainTradeLineItem")
        self.path(element, "ram:AssociatedDocumentLineDocument/ram:LineID", str(index + 1))
        product = self.add(element, "ram:SpecifiedTradeProduct")
        self.opt(product, "ram:SellerAssignedID", line.product_code)
        self.add(product, "ram:Name", line.description)
        price = "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount"
        self.path(element, price, line.unit_price)
        delivery = self.add(element, "ram:SpecifiedLineTradeDelivery")
        self.add(delivery, "ram:BilledQuantity", line.quantity, unitCode=line.unit or "C62")
        settlement = self.add(element, "ram:SpecifiedLineTradeSettlement")
        trade_tax = self.add(settlement, "ram:ApplicableTradeTax")
        self.add(trade_tax, "ram:TypeCode", "VAT")
        self.rate(trade_tax, line.tax_rate, _line_category(self.invoice, line))
        total = "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"
        self.path(settlement, total, line.amount)
