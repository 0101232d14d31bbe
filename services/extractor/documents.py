"""Turning fetched bytes into pages: PIL images of bounded size and/or a PDF's text layer.

Everything here is CPU-bound and synchronous; the pipeline runs it in a thread.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pypdfium2 as pdfium
from PIL import Image

from contracts import ErrorCode, sniff_media_type
from contracts.media import PDF, SNIFF_BYTES, TIFF
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
    """One page: a PDF text layer, an image, or (in principle) both. `number` is 1-based."""

    number: int
    text: str | None = None
    image: Image.Image | None = None


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
            text = str(textpage.get_text_range()).replace("\r\n", "\n").strip()
        finally:
            textpage.close()
        if sum(not c.isspace() for c in text) >= MIN_TEXT_LAYER_CHARS:
            return Page(index + 1, text=text)
        return Page(index + 1, image=render_pdf_page(page, limits.max_image_side))
    finally:
        page.close()


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
