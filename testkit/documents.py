"""Small documents made in the tests: images drawn with Pillow, PDFs written by hand."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

# Values of the fake model's canned invoice (tests/fakes/openai_server.py) as `(x, y, text)`:
# drawn there (points of a PDF page or pixels of an image), tests know where each one is.
CANNED_PLACED = (
    (60, 60, "ACME GmbH"),
    (60, 90, "Invoice INV-1001"),
    (60, 120, "Date 15.03.2024"),
    (60, 200, "Widget A"),
    (300, 200, "2 x 60.00"),
    (460, 200, "120.00"),
    (60, 300, "Total EUR"),
    (460, 300, "193.00"),
)

RECEIPT_LINES = (
    "ACME TRADING SDN BHD",
    "GST No: 000123456789",
    "Receipt No: CS1001",
    "Date: 15/01/2019",
    "Widget 2 x 5.00 10.00",
    "TOTAL RM 10.00",
    "CASH 20.00",
    "CHANGE 10.00",
)


def image_bytes(
    lines: Sequence[str] = ("INVOICE",),
    *,
    size: tuple[int, int] = (400, 300),
    mode: str = "RGB",
    fmt: str = "PNG",
    exif_orientation: int | None = None,
) -> bytes:
    image = Image.new(mode, size, "white" if mode != "RGBA" else (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=18)
    for index, line in enumerate(lines):
        draw.text((10, 10 + 26 * index), line, fill="black", font=font)
    buffer = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(buffer, fmt, exif=exif)
    else:
        image.save(buffer, fmt)
    return buffer.getvalue()


def tiff_bytes(pages: int) -> bytes:
    frames = [Image.new("L", (60, 80), 255) for _ in range(pages)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def scanned_pdf(pages: int = 1) -> bytes:
    """A PDF whose pages are only images (no text layer), as a scanner makes them."""
    frames = [Image.open(io.BytesIO(image_bytes(RECEIPT_LINES))).convert("RGB")] * pages
    buffer = io.BytesIO()
    frames[0].save(buffer, "PDF", save_all=True, append_images=frames[1:], resolution=72)
    return buffer.getvalue()


def blank_pdf(width: int, height: int, *, rotate: int = 0, pages: int = 1) -> bytes:
    """Pages of `width` x `height` points with a `/Rotate`, and nothing on them (so the
    extractor renders them): a scan's page size and rotation without its pixels."""
    kids = b" ".join(b"%d 0 R" % (3 + index) for index in range(pages))
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Rotate %d >>" % (
        width,
        height,
        rotate,
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        *[page] * pages,
    ]
    return pdf_file(objects)


def text_pdf(pages: Sequence[Sequence[str]] = (RECEIPT_LINES,)) -> bytes:
    """A minimal valid PDF with a real text layer (Helvetica), one content stream per page."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    font_id = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for lines in pages:
        text = "BT /F1 12 Tf 14 TL 40 800 Td " + " ".join(
            f"({_escape(line)}) Tj T*" for line in lines
        )
        stream = text.encode("latin-1") + b" ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font_id, content_id)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    return pdf_file(objects)


def placed_pdf(
    texts: Sequence[tuple[float, float, str]],
    *,
    size: tuple[float, float] = (595, 842),
    rotate: int = 0,
    font_size: float = 12,
) -> bytes:
    """A one-page PDF with a text layer (Helvetica): each `(x, y, text)` drawn with its
    baseline starting `x` points from the left and `y` points from the top of the unrotated
    page; `rotate` is the page's /Rotate, which viewers (and pdfium) apply on display."""
    width, height = size
    stream = "\n".join(
        f"BT /F1 {font_size} Tf {x} {height - y} Td ({_escape(text)}) Tj ET" for x, y, text in texts
    ).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Rotate %d "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>" % (width, height, rotate),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return pdf_file(objects)


def pdf_file(objects: Sequence[bytes]) -> bytes:
    """A PDF of these objects (numbered from 1, the first the catalog) with its xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def ink(image: Image.Image, region: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The box of the dark pixels of `image` inside `region` (left, top, right, bottom), in the
    image's pixels: where something was drawn there."""
    crop = image.convert("L").crop(region).point(lambda value: 255 if value < 128 else 0)
    box = crop.getbbox()
    if box is None:
        raise AssertionError(f"nothing is drawn in {region}")
    return box[0] + region[0], box[1] + region[1], box[2] + region[0], box[3] + region[1]


def assert_covers(
    bbox: Sequence[float] | None, image: Image.Image, region: tuple[int, int, int, int]
) -> None:
    """Evidence `bbox` (fractions of the page), applied to `image` (the page at some scale),
    holds what is drawn in `region` of it, to a pixel or two."""
    assert bbox is not None, "no box"
    width, height = image.size
    x0, y0, x1, y1 = bbox[0] * width, bbox[1] * height, bbox[2] * width, bbox[3] * height
    left, top, right, bottom = ink(image, region)
    assert x0 - 2 <= left and right <= x1 + 2, (bbox, (left, top, right, bottom))
    assert y0 - 2 <= top and bottom <= y1 + 2, (bbox, (left, top, right, bottom))
