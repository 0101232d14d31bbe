"""The offline provider: OCR plus rules on a real receipt; text-layer PDFs without OCR."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from contracts import filled_values
from services.extractor.documents import load_document
from services.extractor.local_provider import LocalProvider
from services.extractor.ocr import OcrEngine, OcrLine
from services.extractor.open_document import OpenDocument
from services.extractor.provider import no_report
from services.pages.render import DocumentLimits
from testkit.documents import RECEIPT_LINES, assert_covers, image_bytes, text_pdf


async def test_reads_a_real_receipt(receipts_dev: Path) -> None:
    data = (receipts_dev / "images" / "receipt-000.jpg").read_bytes()
    document = load_document(data, DocumentLimits())
    reports: list[tuple[int, str]] = []

    async def report(progress: int, message: str) -> None:
        reports.append((progress, message))

    extraction = await LocalProvider(OcrEngine()).extract(
        OpenDocument(document), model=None, report=report
    )

    invoice = extraction.invoice
    assert invoice.total == Decimal("153.35")
    assert invoice.invoice_date == dt.date(2018, 2, 12)
    assert invoice.vendor.name == "TED HENG STATIONERY & BOOKS"
    assert invoice.currency == "MYR"
    assert extraction.provider == "local" and extraction.pages == 1
    assert extraction.usage.input_tokens == 0 and extraction.usage.output_tokens == 0
    assert reports == [(15, "OCR page 1/1")]
    evidence = extraction.evidence["invoice_date"]
    assert evidence.page == 1 and evidence.bbox is not None and "12/02/2018" in evidence.text
    # Fractions of the upright page, not pixels: the date row is a thin band across it.
    x0, y0, x1, y1 = evidence.bbox
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and y1 - y0 < 0.1
    for path, _ in filled_values(invoice):
        if path != "document_type":  # a classification, not printed
            assert path in extraction.evidence, path
    assert extraction.evidence["currency"].text == "RM"  # told by its sign


class NoOcr(OcrEngine):
    def read_sync(self, image: Image.Image) -> list[OcrLine]:
        raise AssertionError("a text layer needs no OCR")


async def test_text_layer_pdf_is_parsed_without_ocr() -> None:
    document = load_document(text_pdf(), DocumentLimits())
    reports: list[tuple[int, str]] = []

    async def report(progress: int, message: str) -> None:
        reports.append((progress, message))

    extraction = await LocalProvider(NoOcr()).extract(
        OpenDocument(document), model=None, report=report
    )

    assert extraction.invoice.total == Decimal("10.00")
    assert extraction.invoice.vendor.name == "ACME TRADING SDN BHD"
    assert extraction.invoice.invoice_date == dt.date(2019, 1, 15)
    assert reports == []
    # testkit's text_pdf: 12 pt Helvetica from x = 40 pt, baselines 14 pt apart from 800 pt up
    # a 595 x 842 pt page; "TOTAL RM 10.00" is the sixth line, its baseline 730 pt up.
    evidence = extraction.evidence["total"]
    assert evidence.page == 1 and evidence.text == "TOTAL RM 10.00" and evidence.bbox
    x0, y0, x1, y1 = evidence.bbox
    assert x0 == pytest.approx(40 / 595, abs=0.003)
    assert y0 < (842 - 730 - 8) / 842 < (842 - 730) / 842 < y1 < (842 - 730 + 4) / 842
    assert 0.15 < x1 < 0.3


async def test_model_option_is_ignored() -> None:
    document = load_document(text_pdf(), DocumentLimits())

    extraction = await LocalProvider(NoOcr()).extract(
        OpenDocument(document), model="gpt-4o", report=no_report
    )

    assert extraction.model == LocalProvider.model


async def test_evidence_is_placed_on_the_upright_page_of_a_rotated_photo() -> None:
    upright = Image.open(io.BytesIO(image_bytes(RECEIPT_LINES))).convert("RGB")
    # Stored on its side with EXIF orientation 6 ("rotate 90° clockwise to view"), as phones do.
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(buffer, "JPEG", quality=95, exif=exif)
    document = load_document(buffer.getvalue(), DocumentLimits())
    assert document.pages[0].image is not None and document.pages[0].image.size == upright.size

    extraction = await LocalProvider(OcrEngine()).extract(
        OpenDocument(document), model=None, report=no_report
    )

    evidence = extraction.evidence["total"]
    assert evidence.text == "TOTAL RM 10.00"
    assert_covers(evidence.bbox, upright, (0, 140, 400, 165))  # line 5, drawn at y = 140
