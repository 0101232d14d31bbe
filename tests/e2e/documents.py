"""Small real documents for the e2e tests: an invoice image and a PDF with a text layer."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from testkit.documents import pdf_file

INVOICE_LINES = (
    "ACME GmbH",
    "Invoice INV-1001",
    "Date 2024-03-15",
    "Widget 2 x 50.00 = 100.00",
    "Gadget 1 x 62.18 = 62.18",
    "Subtotal 162.18",
    "VAT 19% 30.82",
    "Total EUR 193.00",
)


def invoice_png(tag: str = "", size: tuple[int, int] = (600, 400)) -> bytes:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate((*INVOICE_LINES, tag)):
        draw.text((30, 20 + row * 40), line, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def text_pdf(lines: tuple[str, ...] = INVOICE_LINES) -> bytes:
    """A one-page PDF whose text is a real text layer (Helvetica), written by hand."""
    text = "\n".join(
        f"BT /F1 12 Tf 50 {750 - 20 * row} Td ({line}) Tj ET" for row, line in enumerate(lines)
    ).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
    ]
    return pdf_file(objects)
