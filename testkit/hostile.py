"""Hostile documents made by code: bombs, loops, lies and polyglots, each small on disk.

Every generator returns the file's bytes; `CORPUS` names each with the error code the extractor
must answer it with (None: a document it may read, such as a polyglot that is a valid PDF).
"""

from __future__ import annotations

import io
import itertools
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from testkit.documents import RECEIPT_LINES, image_bytes, pdf_file, text_pdf

# --- PNG ------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG whose header declares `width`×`height` 8-bit grey pixels; its data is `idat`."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat or zlib.compress(b"\x00" * 1024))
        + _png_chunk(b"IEND", b"")
    )


def png_bomb(side: int = 50_000) -> bytes:
    """A few hundred bytes declaring `side`² pixels (2.5 gigapixels by default)."""
    return png_declaring(side, side)


def png_many_pixels(side: int = 6000) -> bytes:
    """A real, fully decodable 1-bit PNG of `side`² pixels: tens of KB, seconds to decode."""
    buffer = io.BytesIO()
    Image.new("1", (side, side), 1).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def png_with_trailing_html() -> bytes:
    """A polyglot: a valid receipt PNG followed by an HTML page with a script."""
    return image_bytes(RECEIPT_LINES) + b"<html><script>alert(document.cookie)</script></html>"


# --- JPEG and WebP --------------------------------------------------------------------------


def jpeg_bomb(width: int = 65_000, height: int = 65_000) -> bytes:
    """A real small JPEG whose frame header (SOF0) is rewritten to declare a huge size."""
    data = bytearray(image_bytes(size=(16, 16), fmt="JPEG"))
    at = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def webp_bomb(width: int = 16_000, height: int = 16_000) -> bytes:
    """An extended WebP (VP8X) whose canvas declares `width`×`height`, with a 16×16 bitstream."""
    small = image_bytes(size=(16, 16), fmt="WEBP")
    bitstream = small[12:]  # the VP8 chunk of a simple lossy file
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + bitstream
    return b"RIFF" + struct.pack("<I", len(body)) + body


# --- TIFF -----------------------------------------------------------------------------------

_WIDTH, _LENGTH, _STRIP_OFFSETS, _STRIP_BYTES, _ROWS_PER_STRIP = 256, 257, 273, 279, 278
_SHORT, _LONG = 3, 4


def _ifd(entries: list[tuple[int, int, int]], next_offset: int) -> bytes:
    """A classic little-endian IFD of (tag, type, value) entries, sorted as TIFF wants them."""
    body = struct.pack("<H", len(entries))
    for tag, kind, value in sorted(entries):
        body += struct.pack("<HHII", tag, kind, 1, value)
    return body + struct.pack("<I", next_offset)


def _page_entries(
    width: int, height: int, strip: int, strip_bytes: int
) -> list[tuple[int, int, int]]:
    return [
        (_WIDTH, _LONG, width),
        (_LENGTH, _LONG, height),
        (_STRIP_OFFSETS, _LONG, strip),
        (_STRIP_BYTES, _LONG, strip_bytes),
        (_ROWS_PER_STRIP, _LONG, height),
    ]


def tiff_pages(pages: list[list[tuple[int, int, int]]], *, cycle_to: int | None = None) -> bytes:
    """A TIFF of these IFDs in order after an 8-byte strip of white pixels at offset 8.

    `cycle_to`: the last IFD links back to the IFD of that index instead of ending the chain.
    """
    strip = 8
    out = bytearray(b"II*\x00" + struct.pack("<I", 16) + b"\xff" * 8)
    offsets = list(
        itertools.accumulate((2 + 12 * len(entries) + 4 for entries in pages[:-1]), initial=16)
    )
    for index, entries in enumerate(pages):
        last = index == len(pages) - 1
        link = (offsets[cycle_to] if cycle_to is not None else 0) if last else offsets[index + 1]
        out += _ifd([(t, k, strip if t == _STRIP_OFFSETS else v) for t, k, v in entries], link)
    return bytes(out)


def tiff_ifd_chain(pages: int = 40_000) -> bytes:
    """`pages` 8×8 pages sharing one strip: about 40 bytes a page, a CPU bomb for `n_frames`."""
    entries = [(_WIDTH, _SHORT, 8), (_LENGTH, _SHORT, 8), (_STRIP_OFFSETS, _LONG, 0)]
    return tiff_pages([entries] * pages)


def tiff_ifd_cycle() -> bytes:
    """Three pages, the third linking back to the first: a reader that follows links never ends."""
    page = _page_entries(8, 8, 0, 8)
    return tiff_pages([page, page, page], cycle_to=0)


def tiff_frame_without_dimensions() -> bytes:
    """A valid first page, then a page with no width or length at all."""
    first = _page_entries(8, 8, 0, 8)
    second = [(_STRIP_OFFSETS, _LONG, 0), (_STRIP_BYTES, _LONG, 8)]
    return tiff_pages([first, second])


def tiff_bomb(side: int = 100_000) -> bytes:
    """One page declaring `side`² pixels with 8 bytes of data."""
    return tiff_pages([_page_entries(side, side, 0, 8)])


# --- PDF ------------------------------------------------------------------------------------


def truncated_pdf() -> bytes:
    data = text_pdf()
    return data[: len(data) // 2]


def cyclic_pdf() -> bytes:
    """A page tree whose only kid is the tree itself."""
    return pdf_file(
        [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"]
    )


def self_referencing_pdf() -> bytes:
    """A page whose content stream's /Length is a reference to itself, and a looping /Parent.

    PDFium reads it as one blank page: a document, not an error, but it must not hang."""
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 3 0 R >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            b"<< /Length 4 0 R >>\nstream\nBT ET\nendstream",
        ]
    )


def encrypted_pdf() -> bytes:
    """A text PDF that says it is encrypted (standard handler) with keys that open nothing."""
    data = text_pdf()
    objects_end = data.index(b"xref\n")
    encrypt = b"99 0 obj\n<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -4 >>\nendobj\n" % (
        b"ab" * 32,
        b"cd" * 32,
    )
    body = data[:objects_end] + encrypt
    rest = data[objects_end:].replace(
        b"/Root 1 0 R >>", b"/Root 1 0 R /Encrypt 99 0 R /ID [<0011> <0011>] >>"
    )
    # The xref table does not list object 99: PDFium rebuilds it, as it does for damaged files.
    return body + rest


def pdf_declaring_pages(count: int = 10_000) -> bytes:
    """A page tree that declares `count` pages and holds `count` references to one page."""
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"
    kids = b" ".join([b"3 0 R"] * count)
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count,
            page,
        ]
    )


def pdf_zip_polyglot() -> bytes:
    """A valid text PDF that is also a ZIP archive (its central directory at the end)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", "<script>alert(1)</script>")
    return text_pdf() + archive.getvalue()


def pdf_with_huge_page() -> bytes:
    """A scanned-looking page (no text) whose MediaBox is 14,400 points (200 inches) a side."""
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>",
        ]
    )


# --- the corpus -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    name: str
    make: Callable[[], bytes]
    # The error code the extractor answers with; None: it reads the document.
    code: str | None


CORPUS: tuple[Hostile, ...] = (
    Hostile("zero-byte", lambda: b"", "unsupported_media_type"),
    Hostile("png-bomb", png_bomb, "image_too_large"),
    Hostile("png-bomb-huge", lambda: png_bomb(2**31 - 1), "image_too_large"),
    Hostile("png-truncated-data", lambda: png_declaring(2000, 2000, b"x"), "corrupt_document"),
    Hostile("png-trailing-html", png_with_trailing_html, None),
    Hostile("jpeg-bomb", jpeg_bomb, "image_too_large"),
    Hostile("webp-bomb", webp_bomb, "image_too_large"),
    Hostile("tiff-bomb", tiff_bomb, "image_too_large"),
    Hostile("tiff-ifd-chain", tiff_ifd_chain, "too_many_pages"),
    Hostile("tiff-ifd-cycle", tiff_ifd_cycle, "corrupt_document"),
    Hostile("tiff-frame-without-dimensions", tiff_frame_without_dimensions, "corrupt_document"),
    Hostile("pdf-truncated", truncated_pdf, "corrupt_document"),
    Hostile("pdf-cyclic-page-tree", cyclic_pdf, "corrupt_document"),
    Hostile("pdf-self-referencing", self_referencing_pdf, None),
    Hostile("pdf-encrypted", encrypted_pdf, "corrupt_document"),
    Hostile("pdf-10000-pages", pdf_declaring_pages, "too_many_pages"),
    Hostile("pdf-zip-polyglot", pdf_zip_polyglot, None),
    Hostile("pdf-huge-page", pdf_with_huge_page, None),
)

# Names a client may send with a document: none of them may break a stage or its messages.
ODD_FILENAMES: tuple[str, ...] = (
    "../../etc/passwd",
    "receipt\x00.png",
    "receipt\n.png",
    "\u202egnp.exe",
    "x" * 1000 + ".png",
    "レシート 🧾.png",
    "",
    "CON",
)
