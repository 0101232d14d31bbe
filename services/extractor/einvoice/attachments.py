"""Where an e-invoice is: the upload itself (XML), or a file embedded in a PDF (Factur-X,
ZUGFeRD, XRechnung), found by pypdf through the embedded-files name tree and the catalog's `/AF`
(associated files) array, whatever the attachment is named."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject

from contracts.media import PDF, SNIFF_BYTES, XML, looks_like_einvoice, sniff_media_type
from services.extractor.einvoice.xml import MAX_XML_BYTES

log = logging.getLogger(__name__)

# The names producers give the embedded invoice, most common first; any other name is looked at
# after these.
KNOWN_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "ZUGFeRD-invoice.xml", "xrechnung.xml")


@dataclass(frozen=True)
class EInvoiceSource:
    xml: bytes
    embedded: bool
    attachment: str | None = None


def find_einvoice(data: bytes) -> EInvoiceSource | None:
    """The e-invoice XML of an upload, or None when it is a document without one."""
    media_type = sniff_media_type(data[:SNIFF_BYTES])
    if media_type == XML:
        return EInvoiceSource(data, embedded=False)
    if media_type == PDF:
        return _embedded(data)
    return None


def _embedded(data: bytes) -> EInvoiceSource | None:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        candidates = dict(_attachments(reader))
    except Exception as exc:
        # Whatever pypdf trips on: an unreadable PDF is reported by the page loader; here it
        # simply carries no invoice.
        log.info("PDF attachments unreadable: %r", exc)
        return None
    ordered = [name for name in KNOWN_NAMES if name in candidates]
    ordered += sorted(name for name in candidates if name not in KNOWN_NAMES)
    for name in ordered:
        xml = candidates[name]
        if len(xml) <= MAX_XML_BYTES and looks_like_einvoice(xml[:SNIFF_BYTES]):
            return EInvoiceSource(xml, embedded=True, attachment=name)
    return None


def _attachments(reader: PdfReader) -> Iterator[tuple[str, bytes]]:
    for name, contents in reader.attachments.items():
        for content in contents:
            yield name, content
    # Associated files (PDF/A-3, Factur-X): /AF on the catalog, each a file specification.
    catalog: Any = reader.trailer["/Root"].get_object()
    files = catalog.get("/AF")
    if files is None:
        return
    files = files.get_object()
    if not isinstance(files, ArrayObject):
        return
    for index, reference in enumerate(files):
        spec = reference.get_object()
        if not isinstance(spec, DictionaryObject) or "/EF" not in spec:
            continue
        embedded: Any = spec["/EF"].get_object()
        stream = embedded.get("/F") or embedded.get("/UF")
        if stream is None:
            continue
        name = str(spec.get("/UF") or spec.get("/F") or f"associated-file-{index + 1}")
        yield name, stream.get_object().get_data()
