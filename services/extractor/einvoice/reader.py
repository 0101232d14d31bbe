"""One e-invoice into an `Extraction`: parse, read, check against the standard and, for a hybrid
PDF, against its visible layer. Exact values, confidence 1.0, provider `einvoice`, no model."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from contracts import CONFIDENCE_FIELDS, EInvoiceInfo, ErrorCode, Extraction, Usage, ValidationIssue
from services.extractor.einvoice.attachments import EInvoiceSource
from services.extractor.einvoice.compare import compare_with_pages
from services.extractor.einvoice.read import ReadEInvoice, read_einvoice
from services.extractor.einvoice.standard import schematron_issues, xsd_issues
from services.extractor.einvoice.xml import EInvoiceError, ParsedXml, parse_einvoice
from services.extractor.einvoice.xrechnung import is_xrechnung, xrechnung_issues
from services.worker.errors import PermanentError

PROVIDER = "einvoice"


def read_source(
    source: EInvoiceSource, page_texts: Sequence[str | None] = (), *, schematron: bool = True
) -> Extraction:
    try:
        parsed = parse_einvoice(source.xml)
    except EInvoiceError as exc:
        raise PermanentError(ErrorCode.INVALID_EINVOICE, str(exc)) from exc
    read = read_einvoice(parsed)
    issues = [*read.issues, *standard_issues(parsed, read, schematron=schematron)]
    if source.embedded:
        issues += compare_with_pages(read.invoice, page_texts)
    invoice = read.invoice
    dumped = invoice.model_dump()
    confidence = {name: 1.0 for name in CONFIDENCE_FIELDS if _present(dumped, name)}
    return Extraction(
        invoice=invoice,
        confidence=confidence,
        evidence=read.evidence,
        provider=PROVIDER,
        model=None,
        usage=Usage(),
        pages=max(len(page_texts), 1),
        einvoice=EInvoiceInfo(
            syntax=read.syntax,
            specification=read.specification,
            embedded=source.embedded,
            issues=issues,
        ),
    )


def standard_issues(
    parsed: ParsedXml, read: ReadEInvoice, *, schematron: bool
) -> list[ValidationIssue]:
    issues = xsd_issues(parsed)
    xrechnung = is_xrechnung(read.specification)
    if schematron:
        issues += schematron_issues(parsed, factur_x=not xrechnung)
    if xrechnung:
        issues += xrechnung_issues(parsed)
    return issues


def _present(dumped: dict[str, object], name: str) -> bool:
    value: object = dumped
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value not in (None, [], "")


async def read_off_loop(
    source: EInvoiceSource, page_texts: Sequence[str | None], *, schematron: bool
) -> Extraction:
    return await asyncio.to_thread(read_source, source, page_texts, schematron=schematron)
