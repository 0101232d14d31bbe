"""The document types invoiceflow accepts, recognised by content (magic bytes), never by name."""

from __future__ import annotations

import re

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
TIFF = "image/tiff"
# A structured e-invoice: UBL 2.1 Invoice / CreditNote or UN/CEFACT CII CrossIndustryInvoice.
XML = "application/xml"

ALLOWED_MEDIA_TYPES: tuple[str, ...] = (PDF, PNG, JPEG, WEBP, TIFF, XML)

# How many leading bytes `sniff_media_type` needs: the magic bytes fit in 16, an XML e-invoice's
# root element comes after its prolog (declaration, comments, perhaps a refused DOCTYPE).
SNIFF_BYTES = 4096

# The root element of an e-invoice: UBL `Invoice` / `CreditNote`, CII `CrossIndustryInvoice`
# (ZUGFeRD 1.0's `CrossIndustryDocument` too, so that it is refused with a reason, not a 415).
_XML_START = re.compile(rb"^(\xef\xbb\xbf)?\s*<")
_EINVOICE_ROOT = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?(Invoice|CreditNote|CrossIndustryInvoice|CrossIndustryDocument)[\s/>]"
)


def sniff_media_type(head: bytes) -> str | None:
    """The media type of a document from its first bytes, or None when it is none we accept."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if looks_like_einvoice(head):
        return XML
    return None


def looks_like_einvoice(head: bytes) -> bool:
    """XML whose root element is named like an e-invoice's. A sniff, not a parse: the extractor
    parses it with a locked-down parser and refuses a wrong namespace or malformed XML."""
    return _XML_START.match(head) is not None and _EINVOICE_ROOT.search(head) is not None
