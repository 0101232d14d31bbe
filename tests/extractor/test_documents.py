"""Sniffing and normalising documents into pages."""

from __future__ import annotations

import asyncio
import io
import struct
import threading

import pypdfium2 as pdfium
import pytest
from PIL import Image

from contracts import ErrorCode
from services.extractor import documents
from services.extractor.documents import INLINE_BYTES, cheap_to_load, load_document, off_loop_if_big
from services.extractor.page_text import union
from services.pages.render import DocumentLimits
from services.worker.errors import PermanentError
from testkit.documents import (
    RECEIPT_LINES,
    image_bytes,
    ink,
    placed_pdf,
    scanned_pdf,
    text_pdf,
    tiff_bytes,
)
from testkit.hostile import png_bomb, png_many_pixels

LIMITS = DocumentLimits(max_pages=3, max_image_pixels=4_000_000, max_image_side=800)


def failure(data: bytes, limits: DocumentLimits = LIMITS) -> str:
    with pytest.raises(PermanentError) as caught:
        load_document(data, limits)
    return caught.value.code


def test_png_becomes_one_rgb_page() -> None:
    document = load_document(image_bytes(), LIMITS)

    assert document.media_type == "image/png"
    [page] = document.pages
    assert page.number == 1 and page.text is None
    assert page.image is not None and page.image.mode == "RGB" and page.image.size == (400, 300)


def test_large_image_is_scaled_to_the_longest_side() -> None:
    document = load_document(image_bytes(size=(1600, 1000), fmt="JPEG"), LIMITS)

    image = document.pages[0].image
    assert image is not None and image.size == (800, 500)


def test_exif_orientation_is_applied() -> None:
    # Orientation 6: the camera was turned; the upright page is taller than wide.
    document = load_document(image_bytes(size=(400, 200), fmt="JPEG", exif_orientation=6), LIMITS)

    image = document.pages[0].image
    assert image is not None and image.size == (200, 400)


def test_transparent_pixels_become_white_not_black() -> None:
    document = load_document(image_bytes(mode="RGBA"), LIMITS)

    image = document.pages[0].image
    assert image is not None and image.getpixel((399, 299)) == (255, 255, 255)


def test_webp_is_read() -> None:
    assert load_document(image_bytes(fmt="WEBP"), LIMITS).media_type == "image/webp"


def test_multi_frame_tiff_becomes_pages() -> None:
    document = load_document(tiff_bytes(3), LIMITS)

    assert [page.number for page in document.pages] == [1, 2, 3]
    assert all(page.image is not None and page.image.mode == "RGB" for page in document.pages)


def test_tiff_with_too_many_pages_is_refused() -> None:
    assert failure(tiff_bytes(4)) == ErrorCode.TOO_MANY_PAGES


def test_image_over_the_pixel_limit_is_refused_before_decoding() -> None:
    # 1-bit and blank: a few hundred bytes on disk, 9 megapixels once decoded.
    buffer = io.BytesIO()
    Image.new("1", (3000, 3000), 1).save(buffer, "PNG")
    assert len(buffer.getvalue()) < 10_000

    assert failure(buffer.getvalue()) == ErrorCode.IMAGE_TOO_LARGE


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20,
        image_bytes(fmt="JPEG")[:300],  # truncated
        b"%PDF-1.4\nnot really a pdf\n",
    ],
    ids=["png-garbage", "truncated-jpeg", "broken-pdf"],
)
def test_corrupt_documents_are_refused(data: bytes) -> None:
    assert failure(data) == ErrorCode.CORRUPT_DOCUMENT


@pytest.mark.parametrize(
    "data", [b"GIF89a" + b"\x00" * 30, b"<html></html>", b""], ids=["gif", "html", "empty"]
)
def test_other_types_are_unsupported(data: bytes) -> None:
    assert failure(data) == ErrorCode.UNSUPPORTED_MEDIA_TYPE


def test_pdf_text_layer_is_kept_as_text_without_rendering() -> None:
    document = load_document(
        text_pdf([RECEIPT_LINES, ["Second page with enough text here"]]), LIMITS
    )

    assert document.media_type == "application/pdf"
    assert [page.number for page in document.pages] == [1, 2]
    first = document.pages[0]
    assert first.image is None and first.text is not None
    assert "TOTAL RM 10.00" in first.text.splitlines()


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_each_text_layer_character_is_placed_on_the_page_as_rendered(rotate: int) -> None:
    data = placed_pdf([(60, 100, "Invoice INV-1001 of ACME"), (400, 700, "193.00")], rotate=rotate)
    [page] = load_document(data, LIMITS).pages
    assert page.text is not None and page.text_areas is not None
    assert len(page.text_areas) == len(page.text)
    start = page.text.index("193.00")
    area = union(page.text_areas[start : start + 6])

    # Rendered as pdfium shows the page (its /Rotate applied), the area holds the value's ink.
    pdf = pdfium.PdfDocument(data)
    try:
        image = pdf[0].render(scale=2).to_pil()
    finally:
        pdf.close()
    assert area is not None
    width, height = image.size
    box = (area[0] * width, area[1] * height, area[2] * width, area[3] * height)
    region = (round(box[0]) - 6, round(box[1]) - 6, round(box[2]) + 6, round(box[3]) + 6)
    drawn = ink(image, region)
    assert box[0] - 1 <= drawn[0] and drawn[2] <= box[2] + 1
    assert box[1] - 1 <= drawn[1] and drawn[3] <= box[3] + 1
    # ...and is no larger than the glyphs' line: a highlight, not a region of the page.
    assert (box[2] - box[0]) * (box[3] - box[1]) < 3 * (drawn[2] - drawn[0]) * (drawn[3] - drawn[1])


def test_text_layer_line_breaks_pdfium_inserts_have_no_area() -> None:
    [page] = load_document(placed_pdf([(60, 100, "First line of text"), (60, 200, "Second")]),
                           LIMITS).pages  # fmt: skip
    assert page.text == "First line of text\nSecond"
    assert page.text_areas is not None
    assert page.text_areas[page.text.index("\n")] is None
    assert page.text_areas[page.text.index(" ")] is None  # nor do spaces
    assert all(area is not None for area in page.text_areas[:5])


def test_scanned_pdf_pages_are_rendered_within_the_size_bound() -> None:
    document = load_document(scanned_pdf(2), LIMITS)

    assert len(document.pages) == 2
    for page in document.pages:
        assert page.text is None and page.image is not None
        assert max(page.image.size) <= LIMITS.max_image_side


def test_pdf_with_too_many_pages_is_refused() -> None:
    assert failure(text_pdf([["page with some words on it, enough"]] * 4)) == (
        ErrorCode.TOO_MANY_PAGES
    )


async def test_pdfs_load_safely_from_many_threads_at_once() -> None:
    # PDFium is not thread-safe; the module's lock must serialise it (a crash would kill pytest).
    documents = [scanned_pdf(1), text_pdf()] * 6

    loaded = await asyncio.gather(
        *(asyncio.to_thread(load_document, data, LIMITS) for data in documents)
    )

    assert [len(document.pages) for document in loaded] == [1] * 12


def test_small_images_load_inline_pdfs_and_tiffs_never() -> None:
    assert cheap_to_load(image_bytes())
    assert not cheap_to_load(text_pdf())
    assert not cheap_to_load(tiff_bytes(1))
    assert not cheap_to_load(b"\x89PNG\r\n\x1a\n" + bytes(INLINE_BYTES))


def test_small_files_with_many_pixels_are_not_loaded_inline() -> None:
    # 36 megapixels in a few KB: a second of decoding, which must not happen on the loop.
    many = png_many_pixels(6000)
    assert len(many) < INLINE_BYTES

    assert not cheap_to_load(many)
    assert not cheap_to_load(png_bomb())
    assert not cheap_to_load(image_bytes(size=(1200, 1000), fmt="JPEG"))
    assert cheap_to_load(image_bytes(size=(1000, 1000), fmt="JPEG"))


async def test_big_work_runs_in_another_thread() -> None:
    loop_thread = threading.get_ident()
    assert await off_loop_if_big(False, threading.get_ident) == loop_thread
    assert await off_loop_if_big(True, threading.get_ident) != loop_thread


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (OSError("broken data stream"), ErrorCode.CORRUPT_DOCUMENT),
        (struct.error("unpack requires a buffer of 4 bytes"), ErrorCode.CORRUPT_DOCUMENT),
        (TypeError("Missing dimensions"), ErrorCode.CORRUPT_DOCUMENT),
        (ZeroDivisionError("division by zero"), ErrorCode.CORRUPT_DOCUMENT),
        (EOFError(), ErrorCode.CORRUPT_DOCUMENT),
        (Image.DecompressionBombError("too big"), ErrorCode.IMAGE_TOO_LARGE),
        (MemoryError(), ErrorCode.DOCUMENT_TOO_COMPLEX),
    ],
)
@pytest.mark.parametrize("data", [image_bytes(), scanned_pdf()], ids=["image", "pdf"])
def test_every_decoder_failure_is_a_coded_refusal_in_words(
    monkeypatch: pytest.MonkeyPatch, data: bytes, error: Exception, code: ErrorCode
) -> None:
    def decoder(*args: object, **kwargs: object) -> Image.Image:
        raise error

    monkeypatch.setattr(documents, "normalise_image", decoder)
    monkeypatch.setattr(documents, "_pdf_page", decoder)

    with pytest.raises(PermanentError) as caught:
        load_document(data, LIMITS)

    assert caught.value.code == code
    assert type(error).__name__ not in caught.value.message
    assert not str(error) or str(error) not in caught.value.message
