"""Rendering page n of a document: the extractor's page geometry, at most the side asked for."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from contracts import ErrorCode
from services.extractor.documents import load_document
from services.pages.render import DocumentLimits, PageNotFoundError, png_bytes, render_page
from services.worker.errors import PermanentError
from testkit.documents import blank_pdf, image_bytes, scanned_pdf, text_pdf, tiff_bytes
from testkit.einvoices import PEPPOL_UBL
from testkit.hostile import png_many_pixels

REVIEW = DocumentLimits(max_image_side=1600)
EXTRACTOR = DocumentLimits()

SAMPLES = {
    "png": image_bytes(size=(600, 400)),
    "jpeg": image_bytes(size=(640, 480), fmt="JPEG"),
    # Stored sideways with "rotate 90° clockwise to view" (6): the page is portrait.
    "jpeg-exif-6": image_bytes(size=(640, 480), fmt="JPEG", exif_orientation=6),
    "webp": image_bytes(size=(300, 500), fmt="WEBP"),
    "scanned-pdf": scanned_pdf(),
    "a4-pdf": blank_pdf(595, 842),
    "rotated-pdf": blank_pdf(600, 300, rotate=90),
    "tiff": tiff_bytes(2),
}


def aspect(size: tuple[int, int]) -> float:
    return size[0] / size[1]


@pytest.mark.parametrize("name", SAMPLES)
def test_every_page_has_the_shape_the_extractor_saw(name: str) -> None:
    data = SAMPLES[name]
    seen = load_document(data, EXTRACTOR).pages

    for page in seen:
        assert page.image is not None
        rendered = render_page(data, page.number, REVIEW)
        assert rendered.mode == "RGB"
        assert max(rendered.size) <= 1600
        # Both are the same page at different scales: equal shapes but for a pixel's rounding.
        tolerance = 1.5 / min(rendered.size)
        assert aspect(rendered.size) == pytest.approx(aspect(page.image.size), rel=tolerance)


@pytest.mark.parametrize("name", ["png", "jpeg", "webp", "tiff"])
def test_a_page_keeps_its_pixels_after_its_file_is_closed(name: str) -> None:
    # Small enough to be decoded in place rather than copied: still whole once loading ends.
    original = Image.open(io.BytesIO(SAMPLES[name])).convert("RGB")
    page = load_document(SAMPLES[name], EXTRACTOR).pages[0]
    assert page.image is not None
    assert page.image.size == original.size
    assert page.image.getpixel((10, 10)) == original.getpixel((10, 10))


def test_an_exif_rotation_is_applied() -> None:
    rendered = render_page(SAMPLES["jpeg-exif-6"], 1, REVIEW)
    assert rendered.size == (480, 640)


def test_a_pdf_page_is_drawn_with_its_rotation() -> None:
    # 600 x 300 pt turned a quarter: portrait.
    width, height = render_page(SAMPLES["rotated-pdf"], 1, REVIEW).size
    assert height == 1600 and width == pytest.approx(800, abs=1)


def test_a_pdf_page_fills_the_longest_side_allowed_without_passing_it() -> None:
    # 842 pt at 200 dpi would be 2339 px: scaled down to exactly 1600, not rounded up to 1601.
    assert render_page(SAMPLES["a4-pdf"], 1, REVIEW).size == (1131, 1600)
    small = render_page(SAMPLES["a4-pdf"], 1, DocumentLimits(max_image_side=3000))
    assert max(small.size) == pytest.approx(842 * 200 / 72, abs=1)


def test_a_small_image_is_not_enlarged() -> None:
    assert render_page(SAMPLES["png"], 1, REVIEW).size == (600, 400)
    assert render_page(image_bytes(size=(3200, 1000)), 1, REVIEW).size == (1600, 500)


def test_a_pdf_page_with_a_text_layer_is_rendered_too() -> None:
    data = text_pdf([["first page"], ["second page"]])
    assert render_page(data, 2, REVIEW).size == (1131, 1600)


@pytest.mark.parametrize(
    ("data", "number", "count"),
    [
        (SAMPLES["png"], 2, 1),
        (SAMPLES["png"], 0, 1),
        (text_pdf([["one"], ["two"]]), 3, 2),
        (SAMPLES["a4-pdf"], -1, 1),
        (tiff_bytes(3), 4, 3),
        (PEPPOL_UBL, 1, 0),
    ],
    ids=["image", "page-zero", "pdf", "pdf-negative", "tiff", "xml"],
)
def test_no_such_page_says_how_many_there_are(data: bytes, number: int, count: int) -> None:
    with pytest.raises(PageNotFoundError) as caught:
        render_page(data, number, REVIEW)
    assert (caught.value.number, caught.value.count) == (number, count)


@pytest.mark.parametrize(
    ("data", "limits", "code"),
    [
        (png_many_pixels(), DocumentLimits(max_image_pixels=4_000_000), ErrorCode.IMAGE_TOO_LARGE),
        (tiff_bytes(4), DocumentLimits(max_pages=3), ErrorCode.TOO_MANY_PAGES),
        (blank_pdf(100, 100, pages=4), DocumentLimits(max_pages=3), ErrorCode.TOO_MANY_PAGES),
        (b"%PDF-1.4\n garbage", REVIEW, ErrorCode.CORRUPT_DOCUMENT),
        (b"GIF89a", REVIEW, ErrorCode.UNSUPPORTED_MEDIA_TYPE),
    ],
    ids=["pixels", "tiff-pages", "pdf-pages", "corrupt", "unsupported"],
)
def test_the_extractors_decode_limits_hold(
    data: bytes, limits: DocumentLimits, code: ErrorCode
) -> None:
    with pytest.raises(PermanentError) as caught:
        render_page(data, 1, limits)
    assert caught.value.code == code and caught.value.message


def test_png_bytes_are_the_image() -> None:
    image = render_page(SAMPLES["jpeg-exif-6"], 1, REVIEW)
    with Image.open(io.BytesIO(png_bytes(image))) as decoded:
        assert decoded.format == "PNG" and decoded.size == image.size
