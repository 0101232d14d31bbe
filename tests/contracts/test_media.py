from __future__ import annotations

import pytest

from contracts import sniff_media_type


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"GIF89a", None),
        (b"<html>", None),
        (b"RIFF\x10\x00\x00\x00WAVE", None),
        (b"", None),
        (
            b'<?xml version="1.0"?>\n<Invoice xmlns="urn:oasis:names:specification:ubl">',
            "application/xml",
        ),
        (b"\xef\xbb\xbf<ubl:CreditNote xmlns:ubl='x'>", "application/xml"),
        (b"<!-- made by hand -->\n<rsm:CrossIndustryInvoice xmlns:rsm='x'>", "application/xml"),
        (b"<?xml version='1.0'?><note>Invoice</note>", None),
        (b"hello <Invoice>", None),
    ],
)
def test_sniffs_by_content(head: bytes, expected: str | None) -> None:
    assert sniff_media_type(head) == expected
