"""Rows of text as a reader sees them. OCR returns a box per text run, so "TOTAL" and "153.35"
on one printed line arrive as two boxes; rules about labels and amounts need them on one row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from services.extractor.ocr import Box, OcrLine
from services.extractor.page_text import Area, PageText, in_pixels, union


@dataclass(frozen=True)
class Row:
    """One printed line: its pieces left to right, on page `page` (1-based).

    `box` is the OCR's pixel box the rules measure (None for a text layer, which the rules
    read by its order alone); `areas` is where each piece is printed, as fractions of the page,
    for evidence only (empty or None where unknown)."""

    page: int
    pieces: tuple[str, ...]
    box: Box | None = None
    score: float = 1.0
    areas: tuple[Area | None, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.pieces)

    @property
    def area(self) -> Area | None:
        return union(self.areas)


def rows_from_ocr(
    lines: Sequence[OcrLine], page: int, size: tuple[int, int] | None = None
) -> list[Row]:
    """Group OCR boxes whose vertical centres are within half a line height of each other.
    `size` is the page image's (width, height), for the pieces' areas."""
    if not lines:
        return []
    tolerance = median(max(line.height, 1.0) for line in lines) * 0.5
    groups: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: item.center_y):
        if groups and abs(line.center_y - _center(groups[-1])) <= tolerance:
            groups[-1].append(line)
        else:
            groups.append([line])
    return [_row(group, page, size) for group in groups]


def rows_from_text(text: str, page: int, areas: Sequence[Area | None] | None = None) -> list[Row]:
    """A PDF text layer: one row per non-blank line, no boxes; `areas` (one per character of
    `text`) place each row on the page."""
    rows = []
    offset = 0
    for line in text.splitlines(keepends=True):
        start = offset
        offset += len(line)
        stripped = line.strip()
        if not stripped:
            continue
        placed: tuple[Area | None, ...] = ()
        if areas is not None:
            first = start + len(line) - len(line.lstrip())
            placed = (union(areas[first : first + len(stripped)]),)
        rows.append(Row(page, (stripped,), areas=placed))
    return rows


def page_texts(rows: Sequence[Row]) -> list[PageText]:
    """The rows of each page as its text, one line a row, each piece placed at its area."""
    pages: dict[int, list[list[tuple[str, Area | None]]]] = {}
    for row in rows:
        areas = row.areas or (None,) * len(row.pieces)
        pages.setdefault(row.page, []).append(list(zip(row.pieces, areas, strict=True)))
    return [PageText.from_pieces(number, lines) for number, lines in pages.items()]


def _center(group: list[OcrLine]) -> float:
    return sum(line.center_y for line in group) / len(group)


def _row(group: list[OcrLine], page: int, size: tuple[int, int] | None) -> Row:
    ordered = sorted(group, key=lambda line: line.box[0])
    box = (
        min(line.box[0] for line in ordered),
        min(line.box[1] for line in ordered),
        max(line.box[2] for line in ordered),
        max(line.box[3] for line in ordered),
    )
    areas = tuple(in_pixels(line.box, size) for line in ordered) if size is not None else ()
    return Row(
        page,
        tuple(line.text for line in ordered),
        box,
        min(line.score for line in ordered),
        areas,
    )
