"""Parsing untrusted XML: no DTD, no entities, no network, bounded size and depth.

Every failure is an `EInvoiceError` with words a person can act on; lxml's own text goes to the
log only.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from contracts.einvoice import ROOTS, ZUGFERD_1_NS, Syntax

log = logging.getLogger(__name__)

MAX_XML_BYTES = 10 * 1024 * 1024
# EN 16931 documents nest about 10 deep; anything far beyond is an attack or not an invoice.
MAX_DEPTH = 64
_NO_DTD = "the e-invoice XML declares a DTD, which is not accepted"


# Declaration, processing instructions and comments before the root: a DOCTYPE after them is
# refused before any parser sees it (an external DTD would otherwise be looked up first).
_PROLOG = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*)*", re.S)


class EInvoiceError(Exception):
    """The XML cannot be read as an e-invoice; the message is for people."""


@dataclass(frozen=True)
class ParsedXml:
    root: etree._Element
    syntax: Syntax


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse_einvoice(data: bytes) -> ParsedXml:
    if len(data) > MAX_XML_BYTES:
        raise EInvoiceError(f"the e-invoice XML is larger than {MAX_XML_BYTES} bytes")
    prolog = _PROLOG.match(data)
    if data.startswith(b"<!DOCTYPE", prolog.end() if prolog else 0):
        raise EInvoiceError(_NO_DTD)
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        log.info("malformed e-invoice XML: %s", exc)
        raise EInvoiceError("the e-invoice XML is malformed or truncated") from exc
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        # A DTD is how entity expansion (billion laughs) and external entities (XXE) get in.
        raise EInvoiceError(_NO_DTD)
    _check_depth(root)
    qname = etree.QName(root)
    namespace = qname.namespace or ""
    syntax = ROOTS.get((namespace, qname.localname))
    if syntax is None:
        if namespace == ZUGFERD_1_NS:
            raise EInvoiceError("ZUGFeRD 1.0 XML is not supported; ZUGFeRD 2 / Factur-X is")
        raise EInvoiceError(
            f"the XML root {qname.localname} in namespace {namespace or 'none'} is neither a "
            "UBL 2.1 Invoice or CreditNote nor a CII CrossIndustryInvoice"
        )
    return ParsedXml(root, syntax)


def _check_depth(root: etree._Element) -> None:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise EInvoiceError(f"the e-invoice XML nests deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in element)
