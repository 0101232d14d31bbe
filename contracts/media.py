"""The document types invoiceflow accepts, recognised by content (magic bytes), never by name."""

from __future__ import annotations

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
TIFF = "image/tiff"

ALLOWED_MEDIA_TYPES: tuple[str, ...] = (PDF, PNG, JPEG, WEBP, TIFF)

# How many leading bytes `sniff_media_type` needs.
SNIFF_BYTES = 16


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
    return None
