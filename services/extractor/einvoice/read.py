"""An e-invoice's business terms into the invoice schema, exactly: the mapping is
`contracts.einvoice`'s, values are taken as the XML has them (decimals, not floats), and every
value's evidence names the element it came from (`text` is its XPath)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from contracts import Evidence, Invoice, ValidationIssue
from contracts.einvoice import (
    CII_NAMESPACES,
    HEADER_TERMS,
    LINE_TERMS,
    LINES,
    PARTIES,
    PRICE_BASE_QUANTITY,
    ROUNDING,
    SPECIFICATION,
    TAX_BREAKDOWN,
    TAX_TERMS,
    TYPE_CODE,
    UBL_NAMESPACES,
    PartyPaths,
    Syntax,
    Term,
    document_type_of,
    path_of,
)
from services.extractor.einvoice.xml import ParsedXml

_ROOT_LABEL = {
    "CrossIndustryInvoice": "/rsm:CrossIndustryInvoice",
    "Invoice": "/Invoice",
    "CreditNote": "/CreditNote",
}


@dataclass(frozen=True)
class ReadEInvoice:
    invoice: Invoice
    evidence: dict[str, Evidence]
    syntax: Syntax
    specification: str | None
    rounding: Decimal | None
    issues: list[ValidationIssue] = field(default_factory=list)


class _Reader:
    def __init__(self, parsed: ParsedXml) -> None:
        self.syntax = parsed.syntax
        self.root = parsed.root
        self.namespaces = CII_NAMESPACES if self.syntax == "CII" else UBL_NAMESPACES
        self.label = _ROOT_LABEL[etree.QName(parsed.root).localname]
        self.evidence: dict[str, Evidence] = {}
        self.issues: list[ValidationIssue] = []
        self.currency = ""

    def first(self, context: etree._Element, path: str) -> Any:
        found = context.xpath(path, namespaces=self.namespaces, currency=self.currency)
        return found[0] if isinstance(found, list) and found else None

    def elements(self, path: str) -> list[etree._Element]:
        found = self.root.xpath(path, namespaces=self.namespaces)
        return (
            [node for node in found if isinstance(node, etree._Element)]
            if isinstance(found, list)
            else []
        )

    def value(self, context: etree._Element, term: Term, field_path: str, where: str) -> Any:
        node = self.first(context, path_of(term, self.syntax))
        if node is None:
            return None
        text = (str(node) if isinstance(node, str) else node.text or "").strip()
        if not text:
            return None
        converted = self._convert(term, text, node)
        if converted is None:
            self.issues.append(
                ValidationIssue(
                    code="einvoice_unreadable_value",
                    field=field_path,
                    message=f"{term.bt} ({field_path}) is not a valid {term.kind}: {text[:40]}",
                    severity="error",
                )
            )
            return None
        self.evidence[field_path] = Evidence(
            page=1, bbox=None, text=f"{where}/{path_of(term, self.syntax)}"
        )
        return converted

    def _convert(self, term: Term, text: str, node: Any) -> Any:
        if term.kind in ("money", "rate"):
            try:
                amount = Decimal(text)
            except InvalidOperation:
                return None
            return amount if amount.is_finite() else None
        if term.kind == "date":
            return _date(text, self.syntax)
        return text


def _date(text: str, syntax: Syntax) -> dt.date | None:
    # CII: format 102 (CCYYMMDD); UBL: xs:date (YYYY-MM-DD).
    try:
        if syntax == "CII" and len(text) == 8 and text.isdigit():
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def read_einvoice(parsed: ParsedXml) -> ReadEInvoice:
    reader = _Reader(parsed)
    root, label = reader.root, reader.label
    specification = reader.value(root, SPECIFICATION, "einvoice.specification", label)
    type_code = reader.value(root, TYPE_CODE, "document_type", label)
    header = {term.field: term for term in HEADER_TERMS}
    reader.currency = reader.value(root, header["currency"], "currency", label) or ""
    values: dict[str, Any] = {"currency": reader.currency or None}
    for term in HEADER_TERMS:
        if term.field != "currency":
            values[term.field] = reader.value(root, term, term.field, label)
    payment = {name: values.pop(f"payment.{name}") for name in ("iban", "bic", "reference")}
    if payment["iban"] is not None:
        payment["iban"] = "".join(payment["iban"].split()).upper()
    invoice = Invoice.model_validate(
        {
            **values,
            "document_type": document_type_of(type_code),
            "payment": payment,
            "vendor": _party(reader, PARTIES[0]),
            "customer": _party(reader, PARTIES[1]),
            "tax_details": list(_tax_details(reader)),
            "line_items": list(_lines(reader)),
        }
    )
    rounding = reader.value(root, ROUNDING, "rounding", label)
    # Evidence is keyed by invoice field paths only.
    for key in ("einvoice.specification", "rounding"):
        reader.evidence.pop(key, None)
    return ReadEInvoice(
        invoice=invoice,
        evidence=reader.evidence,
        syntax=reader.syntax,
        specification=specification,
        rounding=rounding,
        issues=reader.issues,
    )


def _party(reader: _Reader, party: PartyPaths) -> dict[str, Any]:
    path = party.cii if reader.syntax == "CII" else party.ubl
    element = reader.first(reader.root, path)
    if element is None:
        return {}
    where = f"{reader.label}/{path}"
    values = {
        term.field: reader.value(element, term, f"{party.role}.{term.field}", where)
        for term in party.terms
    }
    if reader.syntax == "UBL" and values["name"] is None:
        # BT-27 is the registration name; a UBL party may give only its trading name (BT-28).
        trading = Term("BT-28", "name", "", "cac:PartyName/cbc:Name")
        values["name"] = reader.value(element, trading, f"{party.role}.name", where)
    address = party.address_cii if reader.syntax == "CII" else party.address_ubl
    parts = [_text(reader.first(element, item)) for item in address]
    lines = [part for part in parts[:3] if part]
    place = " ".join(part for part in parts[3:5] if part)
    joined = ", ".join([*lines, *([place] if place else []), *([parts[5]] if parts[5] else [])])
    if joined:
        values["address"] = joined
        container = address[0].rsplit("/", 1)[0]
        reader.evidence[f"{party.role}.address"] = Evidence(
            page=1, bbox=None, text=f"{where}/{container}"
        )
    return values


def _text(node: Any) -> str | None:
    if node is None:
        return None
    text = (node.text or "").strip()
    return text or None


def _tax_details(reader: _Reader) -> Iterator[dict[str, Any]]:
    path = path_of(TAX_BREAKDOWN, reader.syntax)
    for index, element in enumerate(reader.elements(path)):
        where = f"{reader.label}/{path}[{index + 1}]"
        yield {
            term.field: reader.value(element, term, f"tax_details[{index}].{term.field}", where)
            for term in TAX_TERMS
        }


def _lines(reader: _Reader) -> Iterator[dict[str, Any]]:
    path = path_of(LINES, reader.syntax)
    for index, element in enumerate(reader.elements(path)):
        local = etree.QName(element).localname
        where = (
            f"{reader.label}/{path}[{index + 1}]"
            if reader.syntax == "CII"
            else f"{reader.label}/cac:{local}[{index + 1}]"
        )
        prefix = f"line_items[{index}]"
        values: dict[str, Any] = {}
        for term in LINE_TERMS:
            if values.get(term.field) is None:
                values[term.field] = reader.value(element, term, f"{prefix}.{term.field}", where)
        base = reader.value(element, PRICE_BASE_QUANTITY, f"{prefix}.price_base_quantity", where)
        reader.evidence.pop(f"{prefix}.price_base_quantity", None)
        if base is not None and base not in (0, 1) and values["unit_price"] is not None:
            values["unit_price"] = values["unit_price"] / base
        yield values
