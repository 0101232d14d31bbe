"""Turning fetched bytes into pages: PIL images of bounded size and/or a PDF's text layer.

Everything here is CPU-bound and synchronous; the pipeline runs it in a thread.
"""

from __future__ import annotations

import asyncio
import ctypes
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from contracts import ErrorCode, sniff_media_type
from contracts.media import PDF, SNIFF_BYTES, TIFF
from services.extractor.page_text import Area
from services.pages.render import (
    DocumentLimits,
    image_frames,
    normalise_image,
    open_image,
    open_pdf,
    render_pdf_page,
)
from services.worker.errors import PermanentError

# A page with fewer visible characters than this is treated as scanned and rendered instead.
MIN_TEXT_LAYER_CHARS = 20


@dataclass(frozen=True)
class Page:
    """One page: a PDF text layer, an image, or (in principle) both. `number` is 1-based.

    The page's geometry, which evidence boxes are fractions of, is the image as it stands
    (upright) or the PDF page as pdfium renders it (its /Rotate applied); `text_areas[i]` is
    where `text[i]` is printed on it (None: unknown, e.g. a line break pdfium inserted)."""

    number: int
    text: str | None = None
    image: Image.Image | None = None
    text_areas: tuple[Area | None, ...] | None = None


@dataclass(frozen=True)
class Document:
    media_type: str
    pages: tuple[Page, ...]


def load_document(data: bytes, limits: DocumentLimits) -> Document:
    media_type = sniff_media_type(data[:SNIFF_BYTES])
    if media_type is None:
        raise PermanentError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE, "not a PDF, PNG, JPEG, WebP or TIFF document"
        )
    if media_type == PDF:
        return Document(media_type, _load_pdf(data, limits))
    return Document(media_type, _load_image(data, media_type, limits))


# --- images ---------------------------------------------------------------------------------


def _load_image(data: bytes, media_type: str, limits: DocumentLimits) -> tuple[Page, ...]:
    frames = image_frames(data, media_type, limits)
    with open_image(data) as image:
        pages = []
        for index in range(frames):
            image.seek(index)
            pages.append(Page(index + 1, image=normalise_image(image, limits)))
        return tuple(pages)


# --- PDF ------------------------------------------------------------------------------------


def _load_pdf(data: bytes, limits: DocumentLimits) -> tuple[Page, ...]:
    with open_pdf(data, limits) as pdf:
        return tuple(_pdf_page(pdf, index, limits) for index in range(len(pdf)))


def _pdf_page(pdf: pdfium.PdfDocument, index: int, limits: DocumentLimits) -> Page:
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            text = str(textpage.get_text_range())
            if sum(not c.isspace() for c in text) >= MIN_TEXT_LAYER_CHARS:
                text, areas = _placed_text(page, textpage, text)
                return Page(index + 1, text=text, text_areas=areas)
        finally:
            textpage.close()
        if sum(not c.isspace() for c in text) >= MIN_TEXT_LAYER_CHARS:
            return Page(index + 1, text=text)
        return Page(index + 1, image=render_pdf_page(page, limits.max_image_side))
    finally:
        page.close()


# Page points are mapped to fractions through pdfium's own page-to-device transform (rotation,
# media box origin), sampled at this many device units per page side.
_DEVICE_UNITS = 1 << 20
_SAMPLE_POINTS = 10_000.0


def _placed_text(
    page: pdfium.PdfPage, textpage: pdfium.PdfTextPage, raw: str
) -> tuple[str, tuple[Area | None, ...]]:
    """The text layer as the pages carry it (CRLF as LF, stripped) and each character's area:
    its loose box (the font's full height, so a highlight covers the glyphs) on the page."""
    (ox, ax, bx), (oy, ay, by) = _fractions_of(page)
    count = textpage.count_chars()
    handle = textpage.raw
    char_box, char_index = (
        pdfium_c.FPDFText_GetLooseCharBox,
        pdfium_c.FPDFText_GetCharIndexFromTextIndex,
    )
    rect = pdfium_c.FS_RECTF()
    rect_ref = ctypes.byref(rect)
    # pdfium's text may insert or leave out characters against its character list: where it
    # has neither (nearly always) the text's indices are the list's.
    same = count == len(raw) and len(raw.encode("utf-16-le")) == 2 * len(raw)
    chars: list[tuple[str, Area | None]] = []
    text_index = 0
    for char in raw:
        index = text_index if same else char_index(handle, text_index)
        text_index += 2 if ord(char) > 0xFFFF else 1  # UTF-16 units
        area: Area | None = None
        if not char.isspace() and 0 <= index < count and char_box(handle, index, rect_ref):
            left, top, right, bottom = rect.left, rect.top, rect.right, rect.bottom
            x0, x1 = ox + ax * left + bx * top, ox + ax * right + bx * bottom
            y0, y1 = oy + ay * left + by * top, oy + ay * right + by * bottom
            # Unclamped, unrounded: `union` does that once for a whole value.
            area = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        chars.append((char, area))
    # As `text.replace("\r\n", "\n").strip()`, with the areas kept beside their characters.
    kept = [c for i, c in enumerate(chars) if not (c[0] == "\r" and raw[i + 1 : i + 2] == "\n")]
    start = next((i for i, (c, _) in enumerate(kept) if not c.isspace()), len(kept))
    end = len(kept) - next((i for i, (c, _) in enumerate(reversed(kept)) if not c.isspace()), 0)
    kept = kept[start:end]
    return "".join(c for c, _ in kept), tuple(a for _, a in kept)


def _fractions_of(page: pdfium.PdfPage) -> tuple[tuple[float, float, float], ...]:
    """PDF page coordinates (points, origin bottom left, unrotated) to fractions of the page
    as rendered (origin top left): the affine map's `(o, a, b)` for x and for y, each
    `o + a * x + b * y`, found from three points through pdfium's own transform."""

    def device(x: float, y: float) -> tuple[float, float]:
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(
            page, 0, 0, _DEVICE_UNITS, _DEVICE_UNITS, 0, x, y, ctypes.byref(dx), ctypes.byref(dy)
        )
        return dx.value / _DEVICE_UNITS, dy.value / _DEVICE_UNITS

    ox, oy = device(0.0, 0.0)
    xx, xy = device(_SAMPLE_POINTS, 0.0)
    yx, yy = device(0.0, _SAMPLE_POINTS)
    return (
        (ox, (xx - ox) / _SAMPLE_POINTS, (yx - ox) / _SAMPLE_POINTS),
        (oy, (xy - oy) / _SAMPLE_POINTS, (yy - oy) / _SAMPLE_POINTS),
    )


T = TypeVar("T")

# Below this, decoding takes about a millisecond: cheaper on the event loop than a thread hop.
INLINE_BYTES = 256 * 1024
INLINE_PIXELS = 1_000_000


async def off_loop_if_big(big: bool, fn: Callable[[], T]) -> T:
    """Run CPU work in a thread when it is big enough to stall other tasks, else inline."""
    return await asyncio.to_thread(fn) if big else fn()


def cheap_to_load(data: bytes) -> bool:
    """A small single-page image, by the pixels its header declares (nothing is decoded):
    a file of a few KB can hold a 6000×6000 canvas that takes a second to decode. PDFs and
    TIFFs may hold pages to render: never inline."""
    media_type = sniff_media_type(data[:SNIFF_BYTES])
    if media_type is None:
        return True  # refused at once, unread
    if len(data) > INLINE_BYTES or media_type in (PDF, TIFF):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Exception:  # whatever it is, it is answered where decoding is bounded
        return False
    return width * height <= INLINE_PIXELS


def pixels(document: Document) -> int:
    return sum(p.image.width * p.image.height for p in document.pages if p.image is not None)
