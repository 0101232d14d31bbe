"""XRechnung's CIUS rules (KoSIT, BR-DE-*), the core of them as code: the official KoSIT
Schematron is not in any package this project can install. Run when BT-24 names XRechnung."""

from __future__ import annotations

from dataclasses import dataclass

from contracts import ValidationIssue
from contracts.einvoice import CII_NAMESPACES, UBL_NAMESPACES, XRECHNUNG_MARKER
from services.extractor.einvoice.xml import ParsedXml

_CII_AGREEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
_CII_SELLER = f"{_CII_AGREEMENT}/ram:SellerTradeParty"
_CII_BUYER = f"{_CII_AGREEMENT}/ram:BuyerTradeParty"
_CII_CONTACT = f"{_CII_SELLER}/ram:DefinedTradeContact"
_UBL_SELLER = "cac:AccountingSupplierParty/cac:Party"
_UBL_BUYER = "cac:AccountingCustomerParty/cac:Party"


@dataclass(frozen=True)
class Rule:
    id: str
    message: str
    cii: str
    ubl: str


RULES: tuple[Rule, ...] = (
    Rule(
        "BR-DE-1",
        "An invoice must carry payment instructions (BG-16).",
        "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
        "ram:SpecifiedTradeSettlementPaymentMeans",
        "cac:PaymentMeans",
    ),
    Rule(
        "BR-DE-2",
        "The seller contact (BG-6) must be given.",
        _CII_CONTACT,
        f"{_UBL_SELLER}/cac:Contact",
    ),
    Rule(
        "BR-DE-3",
        "The seller city (BT-37) must be given.",
        f"{_CII_SELLER}/ram:PostalTradeAddress/ram:CityName",
        f"{_UBL_SELLER}/cac:PostalAddress/cbc:CityName",
    ),
    Rule(
        "BR-DE-4",
        "The seller post code (BT-38) must be given.",
        f"{_CII_SELLER}/ram:PostalTradeAddress/ram:PostcodeCode",
        f"{_UBL_SELLER}/cac:PostalAddress/cbc:PostalZone",
    ),
    Rule(
        "BR-DE-5",
        "The seller contact point (BT-41) must be given.",
        f"{_CII_CONTACT}/ram:PersonName|{_CII_CONTACT}/ram:DepartmentName",
        f"{_UBL_SELLER}/cac:Contact/cbc:Name",
    ),
    Rule(
        "BR-DE-6",
        "The seller contact telephone (BT-42) must be given.",
        f"{_CII_CONTACT}/ram:TelephoneUniversalCommunication/ram:CompleteNumber",
        f"{_UBL_SELLER}/cac:Contact/cbc:Telephone",
    ),
    Rule(
        "BR-DE-7",
        "The seller contact email (BT-43) must be given.",
        f"{_CII_CONTACT}/ram:EmailURIUniversalCommunication/ram:URIID",
        f"{_UBL_SELLER}/cac:Contact/cbc:ElectronicMail",
    ),
    Rule(
        "BR-DE-8",
        "The buyer city (BT-52) must be given.",
        f"{_CII_BUYER}/ram:PostalTradeAddress/ram:CityName",
        f"{_UBL_BUYER}/cac:PostalAddress/cbc:CityName",
    ),
    Rule(
        "BR-DE-9",
        "The buyer post code (BT-53) must be given.",
        f"{_CII_BUYER}/ram:PostalTradeAddress/ram:PostcodeCode",
        f"{_UBL_BUYER}/cac:PostalAddress/cbc:PostalZone",
    ),
    Rule(
        "BR-DE-15",
        "The buyer reference (BT-10) must be given.",
        f"{_CII_AGREEMENT}/ram:BuyerReference",
        "cbc:BuyerReference",
    ),
)


def is_xrechnung(specification: str | None) -> bool:
    return specification is not None and XRECHNUNG_MARKER in specification.lower()


def xrechnung_issues(parsed: ParsedXml) -> list[ValidationIssue]:
    namespaces = CII_NAMESPACES if parsed.syntax == "CII" else UBL_NAMESPACES
    issues = []
    for rule in RULES:
        path = rule.cii if parsed.syntax == "CII" else rule.ubl
        found = parsed.root.xpath(path, namespaces=namespaces)
        if not (
            isinstance(found, list)
            and any((getattr(n, "text", "") or "").strip() or len(n) for n in found)
        ):
            issues.append(
                ValidationIssue(code=rule.id, field=None, message=rule.message, severity="error")
            )
    return issues
