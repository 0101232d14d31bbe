"""A page's text with where each character is printed: what evidence boxes are cut from.

Positions are `Area`s, fractions (0-1) of the page's width and height with the origin top left,
the geometry of `documents.Page` (the upright image, or the PDF page as pdfium renders it), so
they hold at whatever scale the page is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# (x0, y0, x1, y1) as fractions of the page, top left origin.
Area = tuple[float, float, float, float]


def union(areas: Iterable[Area | None]) -> Area | None:
    """The smallest area holding all known ones, within the page; None when none is known."""
    known = [area for area in areas if area is not None]
    if not known:
        return None
    return (
        fraction(min(a[0] for a in known)),
        fraction(min(a[1] for a in known)),
        fraction(max(a[2] for a in known)),
        fraction(max(a[3] for a in known)),
    )


def in_pixels(box: tuple[float, float, float, float], size: tuple[int, int]) -> Area:
    """A pixel box of an image of `size` (width, height) as fractions of it, clamped to 0-1."""
    width, height = max(size[0], 1), max(size[1], 1)
    x0, y0, x1, y1 = box
    return (
        fraction(x0 / width),
        fraction(y0 / height),
        fraction(x1 / width),
        fraction(y1 / height),
    )


def fraction(value: float) -> float:
    """A coordinate clamped to the page, rounded to what a highlight can show."""
    return round(min(max(value, 0.0), 1.0), 5)


@dataclass(frozen=True)
class PageText:
    """`text` of page `page` (1-based); `areas[i]` is where `text[i]` is printed, None where
    that is not known (a line break, a space between OCR boxes)."""

    page: int
    text: str
    areas: tuple[Area | None, ...]

    def __post_init__(self) -> None:
        if len(self.areas) != len(self.text):
            raise ValueError("one area per character")

    @classmethod
    def unplaced(cls, page: int, text: str) -> PageText:
        """Text whose positions are not known."""
        return cls(page, text, (None,) * len(text))

    @classmethod
    def from_pieces(cls, page: int, lines: Sequence[Sequence[tuple[str, Area | None]]]) -> PageText:
        """Lines of pieces (an OCR box's text and area): pieces joined by a space, lines by a
        line break, every character of a piece at the piece's area."""
        text: list[str] = []
        areas: list[Area | None] = []
        for number, line in enumerate(lines):
            if number:
                text.append("\n")
                areas.append(None)
            for index, (piece, area) in enumerate(line):
                if index:
                    text.append(" ")
                    areas.append(None)
                text.append(piece)
                areas.extend([area] * len(piece))
        return cls(page, "".join(text), tuple(areas))

    def area(self, start: int, end: int) -> Area | None:
        """Where `text[start:end]` is printed."""
        return union(self.areas[start:end])
