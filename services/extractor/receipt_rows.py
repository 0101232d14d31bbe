"""Rows of text as a reader sees them. OCR returns a box per text run, so "TOTAL" and "153.35"
on one printed line arrive as two boxes; rules about labels and amounts need them on one row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from services.extractor.ocr import Box, OcrLine


@dataclass(frozen=True)
class Row:
    """One printed line: its pieces left to right, on page `page` (1-based)."""

    page: int
    pieces: tuple[str, ...]
    box: Box | None = None
    score: float = 1.0

    @property
    def text(self) -> str:
        return " ".join(self.pieces)


def rows_from_ocr(lines: Sequence[OcrLine], page: int) -> list[Row]:
    """Group OCR boxes whose vertical centres are within half a line height of each other."""
    if not lines:
        return []
    tolerance = median(max(line.height, 1.0) for line in lines) * 0.5
    groups: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: item.center_y):
        if groups and abs(line.center_y - _center(groups[-1])) <= tolerance:
            groups[-1].append(line)
        else:
            groups.append([line])
    return [_row(group, page) for group in groups]


def rows_from_text(text: str, page: int) -> list[Row]:
    """A PDF text layer: one row per non-blank line, no boxes."""
    return [Row(page, (line.strip(),)) for line in text.splitlines() if line.strip()]


def _center(group: list[OcrLine]) -> float:
    return sum(line.center_y for line in group) / len(group)


def _row(group: list[OcrLine], page: int) -> Row:
    ordered = sorted(group, key=lambda line: line.box[0])
    box = (
        min(line.box[0] for line in ordered),
        min(line.box[1] for line in ordered),
        max(line.box[2] for line in ordered),
        max(line.box[3] for line in ordered),
    )
    return Row(page, tuple(line.text for line in ordered), box, min(line.score for line in ordered))
