"""A document's page as an upright RGB image, within decode limits.

The single definition of "page n" of a document: an image file's frame with its EXIF orientation
applied, a PDF page as PDFium renders it (its `/Rotate` included). The extractor reads these
pages and evidence `bbox` fractions refer to them; the gateway renders the same pages for the
review workspace, smaller. Only the scale differs between the two, never the page's shape.

Everything here is CPU-bound and synchronous: callers run it in a thread or a decode process.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import ExifTags, Image, ImageOps

from contracts import ErrorCode, sniff_media_type
from contracts.media import PDF, SNIFF_BYTES, TIFF, XML
from services.pages.tiff import tiff_page_count
from services.worker.errors import PermanentError, StageError

log = logging.getLogger(__name__)

# PDFium is not thread-safe, not even across documents: one pdfium call at a time per process.
PDFIUM_LOCK = threading.Lock()
# PDF pages are rendered at this resolution, unless that would exceed the longest side allowed.
RENDER_DPI = 200


@dataclass(frozen=True)
class DocumentLimits:
    max_pages: int = 10
    max_image_pixels: int = 40_000_000
    max_image_side: int = 2048


class PageNotFoundError(LookupError):
    """The document has no page of that number; `count` is how many it has (0: an XML
    e-invoice, which is data, not pages)."""

    def __init__(self, number: int, count: int) -> None:
        # `args` are the constructor's: the error is returned across a decode process's pipe.
        super().__init__(number, count)
        self.number = number
        self.count = count

    def __str__(self) -> str:
        return f"no page {self.number}: the document has {self.count}"


def render_page(data: bytes, number: int, limits: DocumentLimits) -> Image.Image:
    """Page `number` (1-based) of the document in `data`, its longest side at most
    `limits.max_image_side`; `PageNotFoundError` past the last page, `PermanentError` (coded)
    for a document that cannot be decoded within the limits."""
    media_type = sniff_media_type(data[:SNIFF_BYTES])
    if media_type is None:
        raise PermanentError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE, "not a PDF, PNG, JPEG, WebP or TIFF document"
        )
    if media_type == XML:
        raise PageNotFoundError(number, 0)
    if media_type == PDF:
        return _render_pdf_page(data, number, limits)
    return _render_image_frame(data, media_type, number, limits)


def page_png(data: bytes, number: int, limits: DocumentLimits) -> bytes | PageNotFoundError:
    """`render_page` as PNG bytes, for a decode process (services/pages/decode_pool.py): no such
    page is returned rather than raised, since a decode process answers only coded errors."""
    try:
        return png_bytes(render_page(data, number, limits))
    except PageNotFoundError as missing:
        return missing


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def image_frames(data: bytes, media_type: str, limits: DocumentLimits) -> int:
    """How many pages an image file has: a TIFF's frames (refused past the page limit), else 1.
    Other multi-frame images are animations, one page. Counted by our own bounded walk:
    Pillow's `n_frames` parses every directory of a chain of any length."""
    frames = tiff_page_count(data, limits.max_pages) if media_type == TIFF else 1
    if frames > limits.max_pages:
        raise too_many_pages(limits)
    return frames


@contextlib.contextmanager
def open_image(data: bytes) -> Iterator[Image.Image]:
    """The image file opened lazily (nothing decoded yet), with decoder failures coded."""
    with decoding("the image cannot be read"), warnings.catch_warnings():
        # Our own pixel limit is lower than Pillow's; its bomb warning is just noise here.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:
            yield image


def _render_image_frame(
    data: bytes, media_type: str, number: int, limits: DocumentLimits
) -> Image.Image:
    frames = image_frames(data, media_type, limits)
    if not 1 <= number <= frames:
        raise PageNotFoundError(number, frames)
    with open_image(data) as image:
        image.seek(number - 1)
        return normalise_image(image, limits)


@contextlib.contextmanager
def decoding(message: str) -> Iterator[None]:
    """Any failure of a decoder on hostile bytes is the document's, with a code: Pillow and
    PDFium raise OSError, ValueError, SyntaxError, struct.error, TypeError, EOFError... on a
    damaged file, whichever frame or page it is in."""
    try:
        yield
    except (StageError, PageNotFoundError):
        raise
    except Image.DecompressionBombError as exc:
        raise PermanentError(
            ErrorCode.IMAGE_TOO_LARGE, "the image has more pixels than are accepted"
        ) from exc
    except MemoryError as exc:
        raise PermanentError(
            ErrorCode.DOCUMENT_TOO_COMPLEX, "decoding the document needs more memory than allowed"
        ) from exc
    except Exception as exc:
        log.info("undecodable document: %r", exc)
        raise PermanentError(ErrorCode.CORRUPT_DOCUMENT, message) from exc


def normalise_image(image: Image.Image, limits: DocumentLimits) -> Image.Image:
    """Upright, RGB, longest side at most `max_image_side`; refuses decompression bombs."""
    width, height = image.size
    if width * height > limits.max_image_pixels:
        # Checked before decoding: a small file can declare a huge canvas.
        raise PermanentError(
            ErrorCode.IMAGE_TOO_LARGE,
            f"the image has {width}x{height} pixels, over the limit of {limits.max_image_pixels}",
        )
    side = limits.max_image_side
    # `draft` lets JPEG decode at a fraction of its size, which is much faster for big scans.
    image.draft("RGB", (side, side))
    if getattr(image, "n_frames", 1) == 1 and max(image.size) <= side:
        # Nothing to resize and no other frame to seek to: decoded in place (the file's pixels
        # outlive its closing), as a copy would only duplicate them.
        image.load()
        frame = image
    else:
        frame = image.copy()
        frame.thumbnail((side, side), Image.Resampling.LANCZOS)
    frame = ImageOps.exif_transpose(frame) if _has_orientation(image) else frame
    return _to_rgb(frame)


def _has_orientation(image: Image.Image) -> bool:
    return bool(image.getexif().get(ExifTags.Base.Orientation, 1) != 1)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info:
        # Transparent pixels would turn black; receipts are dark text on light paper.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


# --- PDF ------------------------------------------------------------------------------------


@contextlib.contextmanager
def open_pdf(data: bytes, limits: DocumentLimits) -> Iterator[pdfium.PdfDocument]:
    """The PDF opened under the PDFium lock, its page count checked; closed on leaving. The
    caller's work on it stays under the lock and is coded like the opening."""
    with PDFIUM_LOCK:
        with decoding("the PDF cannot be opened"):
            pdf = pdfium.PdfDocument(data)
        try:
            with decoding("a page of the PDF cannot be read"):
                count = len(pdf)
                if count == 0:
                    raise PermanentError(ErrorCode.CORRUPT_DOCUMENT, "the PDF has no pages")
                if count > limits.max_pages:
                    raise too_many_pages(limits, count)
                yield pdf
        finally:
            # Closed here, under the lock: a finaliser running later on another thread would not be.
            pdf.close()


def _render_pdf_page(data: bytes, number: int, limits: DocumentLimits) -> Image.Image:
    with open_pdf(data, limits) as pdf:
        count = len(pdf)
        if not 1 <= number <= count:
            raise PageNotFoundError(number, count)
        page = pdf[number - 1]
        try:
            return render_pdf_page(page, limits.max_image_side)
        finally:
            page.close()


def render_pdf_page(page: pdfium.PdfPage, max_side: int) -> Image.Image:
    """The page as PDFium draws it (its `/Rotate` applied: `get_size` is the rotated size), at
    `RENDER_DPI` or less, so that its longest side is at most `max_side`. Call under the lock."""
    width, height = page.get_size()
    # PDFium rounds the bitmap's sides up: a hair under the exact fit keeps them within max_side.
    scale = min(RENDER_DPI / 72, (max_side - 1e-6) / max(width, height, 1.0))
    bitmap = page.render(scale=scale)
    try:
        # `convert` copies the pixels out of PDFium's buffer before the bitmap is freed.
        image: Image.Image = bitmap.to_pil().convert("RGB")
    finally:
        bitmap.close()
    return image


def too_many_pages(limits: DocumentLimits, count: int | None = None) -> PermanentError:
    """`count` None: more than the limit, not counted further (a TIFF's chain of pages)."""
    pages = f"{count} pages" if count is not None else f"more than {limits.max_pages} pages"
    message = f"the document has {pages}, over the limit of {limits.max_pages}"
    return PermanentError(ErrorCode.TOO_MANY_PAGES, message)
