"""The `local` provider: offline OCR and the rule-based receipt parser; no tokens, no network.
Text-layer PDF pages skip OCR and are parsed from their text."""

from __future__ import annotations

import asyncio

from contracts import Evidence, Extraction, Stage, Usage
from contracts.pipeline import EXTRACT
from services.extractor.evidence import located_evidence
from services.extractor.grounding import locate
from services.extractor.ocr import OcrEngine
from services.extractor.open_document import OpenDocument
from services.extractor.provider import ReportProgress
from services.extractor.receipt_parser import ParsedReceipt, parse_receipt
from services.extractor.receipt_rows import Row, page_texts, rows_from_ocr, rows_from_text

# OCR page updates spread over the llm_extraction stage, a step in from either end.
_STAGE = EXTRACT.span(Stage.LLM_EXTRACTION)
_PROGRESS_FROM, _PROGRESS_TO = _STAGE.start + 5, _STAGE.end - 5


class LocalProvider:
    name = "local"
    model = "rapidocr+rules"

    def __init__(self, ocr: OcrEngine) -> None:
        self._ocr = ocr

    async def extract(
        self, opened: OpenDocument, *, model: str | None, report: ReportProgress
    ) -> Extraction:
        document = opened.document
        rows: list[Row] = []
        total = len(document.pages)
        for index, page in enumerate(document.pages):
            if page.text:
                rows.extend(rows_from_text(page.text, page.number, page.text_areas))
            elif page.image is not None:
                await report(_progress(index, total), f"OCR page {page.number}/{total}")
                lines = await self._ocr.read(page.image)
                rows.extend(rows_from_ocr(lines, page.number, page.image.size))
        # The rules are cheap next to OCR, but a long text layer is still CPU: off the loop.
        parsed, evidence = await asyncio.to_thread(_parse, rows)
        return Extraction(
            invoice=parsed.invoice,
            confidence=parsed.confidence,
            evidence=evidence,
            provider=self.name,
            model=self.model,
            usage=Usage(),
            pages=total,
        )


def _parse(rows: list[Row]) -> tuple[ParsedReceipt, dict[str, Evidence]]:
    """The receipt and its evidence: the row each rule read a value from, else (a currency
    told by its sign) where grounding finds the value among the rows."""
    parsed = parse_receipt(rows)
    pages = page_texts(rows)
    unread = {
        path: where
        for path, where in locate(parsed.invoice, pages).items()
        if path not in parsed.evidence
    }
    return parsed, located_evidence(unread, pages) | parsed.evidence


def _progress(index: int, total: int) -> int:
    return _PROGRESS_FROM + (_PROGRESS_TO - _PROGRESS_FROM) * index // max(total, 1)
