"""EN 16931 business terms and where each syntax keeps them: the one mapping that reading an
e-invoice (extractor) and exporting one (gateway) both use, and docs/einvoices.md renders.

Paths are XPath 1.0 relative to the root element (`Invoice`, `CreditNote`,
`CrossIndustryInvoice`) with the prefixes of `CII_NAMESPACES` / `UBL_NAMESPACES`; party and line
paths are relative to their party or line element. Plain data: no XML library here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts.invoice import DocumentType

Syntax = Literal["UBL", "CII"]
ValueKind = Literal["text", "date", "money", "rate", "code"]

CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
# ZUGFeRD 1.0's older CII: recognised so that it is refused with a reason.
ZUGFERD_1_NS = "urn:ferd:CrossIndustryDocument:invoice:1p0"

CII_NAMESPACES: dict[str, str] = {
    "rsm": CII_NS,
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
UBL_NAMESPACES: dict[str, str] = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

# The root element of each syntax: (namespace, local name) -> syntax.
ROOTS: dict[tuple[str, str], Syntax] = {
    (CII_NS, "CrossIndustryInvoice"): "CII",
    (UBL_INVOICE_NS, "Invoice"): "UBL",
    (UBL_CREDIT_NOTE_NS, "CreditNote"): "UBL",
}

# BT-24 of an EN 16931 invoice without a CIUS, and of XRechnung 3.0 (the KoSIT CIUS).
EN16931_SPECIFICATION = "urn:cen.eu:en16931:2017"
XRECHNUNG_MARKER = "xrechnung"

# BT-3 (UNTDID 1001) -> document_type; everything else an EN 16931 invoice may carry is an invoice.
CREDIT_NOTE_CODES = frozenset(
    {"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"}
)


def document_type_of(type_code: str | None) -> DocumentType | None:
    if type_code is None:
        return None
    return "credit_note" if type_code.strip() in CREDIT_NOTE_CODES else "invoice"


def type_code_of(document_type: DocumentType | None) -> str:
    return "381" if document_type == "credit_note" else "380"


@dataclass(frozen=True)
class Term:
    """One business term: its EN 16931 id, the invoice field it fills, its path in each syntax."""

    bt: str
    field: str
    cii: str
    ubl: str
    kind: ValueKind = "text"


_CII_TX = "rsm:SupplyChainTradeTransaction"
_CII_AGREEMENT = f"{_CII_TX}/ram:ApplicableHeaderTradeAgreement"
_CII_SETTLEMENT = f"{_CII_TX}/ram:ApplicableHeaderTradeSettlement"
_CII_TOTALS = f"{_CII_SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
_CII_MEANS = f"{_CII_SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"
_UBL_TOTALS = "cac:LegalMonetaryTotal"

SPECIFICATION = Term(
    "BT-24",
    "einvoice.specification",
    "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
    "cbc:CustomizationID",
)
TYPE_CODE = Term(
    "BT-3",
    "document_type",
    "rsm:ExchangedDocument/ram:TypeCode",
    "cbc:InvoiceTypeCode|cbc:CreditNoteTypeCode",
    "code",
)

HEADER_TERMS: tuple[Term, ...] = (
    Term("BT-1", "invoice_number", "rsm:ExchangedDocument/ram:ID", "cbc:ID"),
    Term(
        "BT-2",
        "invoice_date",
        "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString",
        "cbc:IssueDate",
        "date",
    ),
    Term(
        "BT-9",
        "due_date",
        f"{_CII_SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
        "cbc:DueDate|cac:PaymentMeans/cbc:PaymentDueDate",
        "date",
    ),
    Term(
        "BT-5", "currency", f"{_CII_SETTLEMENT}/ram:InvoiceCurrencyCode", "cbc:DocumentCurrencyCode"
    ),
    Term("BT-10", "buyer_reference", f"{_CII_AGREEMENT}/ram:BuyerReference", "cbc:BuyerReference"),
    Term(
        "BT-13",
        "purchase_order",
        f"{_CII_AGREEMENT}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID",
        "cac:OrderReference/cbc:ID",
    ),
    Term(
        "BT-20",
        "payment_terms",
        f"{_CII_SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:Description",
        "cac:PaymentTerms/cbc:Note",
    ),
    Term(
        "BT-106",
        "subtotal",
        f"{_CII_TOTALS}/ram:LineTotalAmount",
        f"{_UBL_TOTALS}/cbc:LineExtensionAmount",
        "money",
    ),
    Term(
        "BT-107",
        "total_discount",
        f"{_CII_TOTALS}/ram:AllowanceTotalAmount",
        f"{_UBL_TOTALS}/cbc:AllowanceTotalAmount",
        "money",
    ),
    Term(
        "BT-108",
        "shipping",
        f"{_CII_TOTALS}/ram:ChargeTotalAmount",
        f"{_UBL_TOTALS}/cbc:ChargeTotalAmount",
        "money",
    ),
    # BT-110 in the invoice's currency (a second TaxTotal may carry BT-111 in the VAT currency).
    Term(
        "BT-110",
        "total_tax",
        f"{_CII_TOTALS}/ram:TaxTotalAmount[@currencyID=$currency or not(@currencyID)]",
        "cac:TaxTotal[cbc:TaxAmount/@currencyID=$currency]/cbc:TaxAmount",
        "money",
    ),
    Term(
        "BT-112",
        "total",
        f"{_CII_TOTALS}/ram:GrandTotalAmount",
        f"{_UBL_TOTALS}/cbc:TaxInclusiveAmount",
        "money",
    ),
    Term(
        "BT-113",
        "amount_paid",
        f"{_CII_TOTALS}/ram:TotalPrepaidAmount",
        f"{_UBL_TOTALS}/cbc:PrepaidAmount",
        "money",
    ),
    Term(
        "BT-115",
        "amount_due",
        f"{_CII_TOTALS}/ram:DuePayableAmount",
        f"{_UBL_TOTALS}/cbc:PayableAmount",
        "money",
    ),
    Term(
        "BT-84",
        "payment.iban",
        f"{_CII_MEANS}/ram:PayeePartyCreditorFinancialAccount/ram:IBANID",
        "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID",
    ),
    Term(
        "BT-86",
        "payment.bic",
        f"{_CII_MEANS}/ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID",
        "cac:PaymentMeans/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID",
    ),
    Term(
        "BT-83",
        "payment.reference",
        f"{_CII_SETTLEMENT}/ram:PaymentReference",
        "cac:PaymentMeans/cbc:PaymentID",
    ),
)

# BT-114 (rounding) is read for the arithmetic, not kept as a field of its own.
ROUNDING = Term(
    "BT-114",
    "rounding",
    f"{_CII_TOTALS}/ram:RoundingAmount",
    f"{_UBL_TOTALS}/cbc:PayableRoundingAmount",
    "money",
)
TAX_BASIS_TOTAL = Term(
    "BT-109",
    "tax_basis_total",
    f"{_CII_TOTALS}/ram:TaxBasisTotalAmount",
    f"{_UBL_TOTALS}/cbc:TaxExclusiveAmount",
    "money",
)


@dataclass(frozen=True)
class PartyPaths:
    """A party (BG-4 seller, BG-7 buyer) and its terms, relative to the party element."""

    role: Literal["vendor", "customer"]
    group: str
    cii: str
    ubl: str
    terms: tuple[Term, ...]
    # Address lines, post code, city, country (BT-35..40 / BT-50..55), in that order.
    address_cii: tuple[str, ...]
    address_ubl: tuple[str, ...]


def _party_terms(name: str, vat: str, phone: str, email: str) -> tuple[Term, ...]:
    return (
        Term(name, "name", "ram:Name", "cac:PartyLegalEntity/cbc:RegistrationName"),
        Term(
            vat,
            "tax_id",
            "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']",
            "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID",
        ),
        Term(
            phone,
            "phone",
            "ram:DefinedTradeContact/ram:TelephoneUniversalCommunication/ram:CompleteNumber",
            "cac:Contact/cbc:Telephone",
        ),
        Term(
            email,
            "email",
            "ram:DefinedTradeContact/ram:EmailURIUniversalCommunication/ram:URIID",
            "cac:Contact/cbc:ElectronicMail",
        ),
    )


_CII_ADDRESS = tuple(
    f"ram:PostalTradeAddress/ram:{name}"
    for name in ("LineOne", "LineTwo", "LineThree", "PostcodeCode", "CityName", "CountryID")
)
_UBL_ADDRESS = tuple(
    f"cac:PostalAddress/{name}"
    for name in (
        "cbc:StreetName",
        "cbc:AdditionalStreetName",
        "cac:AddressLine/cbc:Line",
        "cbc:PostalZone",
        "cbc:CityName",
        "cac:Country/cbc:IdentificationCode",
    )
)

PARTIES: tuple[PartyPaths, ...] = (
    PartyPaths(
        "vendor",
        "BG-4",
        f"{_CII_AGREEMENT}/ram:SellerTradeParty",
        "cac:AccountingSupplierParty/cac:Party",
        _party_terms("BT-27", "BT-31", "BT-42", "BT-43"),
        _CII_ADDRESS,
        _UBL_ADDRESS,
    ),
    PartyPaths(
        "customer",
        "BG-7",
        f"{_CII_AGREEMENT}/ram:BuyerTradeParty",
        "cac:AccountingCustomerParty/cac:Party",
        _party_terms("BT-44", "BT-48", "BT-57", "BT-58"),
        _CII_ADDRESS,
        _UBL_ADDRESS,
    ),
)

# BG-23, one per VAT category and rate.
TAX_BREAKDOWN = Term(
    "BG-23",
    "tax_details",
    f"{_CII_SETTLEMENT}/ram:ApplicableTradeTax",
    "cac:TaxTotal/cac:TaxSubtotal",
)
TAX_TERMS: tuple[Term, ...] = (
    Term("BT-116", "base", "ram:BasisAmount", "cbc:TaxableAmount", "money"),
    Term("BT-117", "amount", "ram:CalculatedAmount", "cbc:TaxAmount", "money"),
    Term("BT-118", "category", "ram:CategoryCode", "cac:TaxCategory/cbc:ID", "code"),
    Term("BT-119", "rate", "ram:RateApplicablePercent", "cac:TaxCategory/cbc:Percent", "rate"),
)

# BG-25, one per invoice line.
LINES = Term(
    "BG-25",
    "line_items",
    f"{_CII_TX}/ram:IncludedSupplyChainTradeLineItem",
    "cac:InvoiceLine|cac:CreditNoteLine",
)
LINE_TERMS: tuple[Term, ...] = (
    Term("BT-153", "description", "ram:SpecifiedTradeProduct/ram:Name", "cac:Item/cbc:Name"),
    Term(
        "BT-129",
        "quantity",
        "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity",
        "cbc:InvoicedQuantity|cbc:CreditedQuantity",
        "money",
    ),
    Term(
        "BT-130",
        "unit",
        "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode",
        "cbc:InvoicedQuantity/@unitCode|cbc:CreditedQuantity/@unitCode",
        "code",
    ),
    Term(
        "BT-146",
        "unit_price",
        "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount",
        "cac:Price/cbc:PriceAmount",
        "money",
    ),
    Term(
        "BT-152",
        "tax_rate",
        "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent",
        "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent",
        "rate",
    ),
    Term(
        "BT-131",
        "amount",
        "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
        "cbc:LineExtensionAmount",
        "money",
    ),
    # The seller's item id (BT-155), else the standard one (BT-157: GTIN and the like).
    Term(
        "BT-155",
        "product_code",
        "ram:SpecifiedTradeProduct/ram:SellerAssignedID",
        "cac:Item/cac:SellersItemIdentification/cbc:ID",
    ),
    Term(
        "BT-157",
        "product_code",
        "ram:SpecifiedTradeProduct/ram:GlobalID",
        "cac:Item/cac:StandardItemIdentification/cbc:ID",
    ),
)
# BT-149, the quantity the net price is for (1 when absent): unit_price = BT-146 / BT-149.
PRICE_BASE_QUANTITY = Term(
    "BT-149",
    "price_base_quantity",
    "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:BasisQuantity",
    "cac:Price/cbc:BaseQuantity",
    "money",
)
LINE_ID = Term("BT-126", "line_id", "ram:AssociatedDocumentLineDocument/ram:LineID", "cbc:ID")


def path_of(term: Term, syntax: Syntax) -> str:
    return term.cii if syntax == "CII" else term.ubl
