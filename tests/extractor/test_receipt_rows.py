"""Grouping OCR boxes into printed rows."""

from __future__ import annotations

import pytest

from services.extractor.ocr import OcrLine
from services.extractor.receipt_rows import page_texts, rows_from_ocr, rows_from_text


def line(text: str, left: float, top: float, height: float = 20.0, score: float = 0.99) -> OcrLine:
    return OcrLine(text, (left, top, left + 10 * len(text), top + height), score)


def test_boxes_on_one_printed_line_become_one_row_left_to_right() -> None:
    rows = rows_from_ocr(
        [
            line("153.35", 400, 103),  # slightly lower: scans are skewed
            line("TOTAL", 10, 100),
            line("CASH", 10, 140, score=0.7),
            line("200.00", 400, 141),
        ],
        page=2,
    )

    assert [row.text for row in rows] == ["TOTAL 153.35", "CASH 200.00"]
    assert rows[0].page == 2 and rows[0].box == (10, 100, 460, 123)
    assert rows[1].score == 0.7  # the weakest piece


def test_lines_a_full_line_apart_stay_apart() -> None:
    rows = rows_from_ocr([line("A", 0, 0), line("B", 0, 22), line("C", 0, 44)], page=1)

    assert [row.text for row in rows] == ["A", "B", "C"]


def test_no_lines_no_rows() -> None:
    assert rows_from_ocr([], page=1) == []


def test_text_layer_rows_skip_blank_lines() -> None:
    rows = rows_from_text("ACME\n\n  TOTAL 10.00  \n", page=1)

    assert [(row.text, row.box) for row in rows] == [("ACME", None), ("TOTAL 10.00", None)]


def test_ocr_pieces_are_placed_as_fractions_of_the_page_image() -> None:
    [row] = rows_from_ocr([line("153.35", 400, 100), line("TOTAL", 10, 100)], 1, (1000, 500))

    assert row.areas == ((0.01, 0.2, 0.06, 0.24), (0.4, 0.2, 0.46, 0.24))  # left to right
    assert row.area == (0.01, 0.2, 0.46, 0.24)
    assert row.box == (10, 100, 460, 120)  # the rules still measure pixels


def test_without_the_page_size_ocr_rows_have_no_areas() -> None:
    [row] = rows_from_ocr([line("TOTAL", 10, 100)], page=1)

    assert row.areas == () and row.area is None


def test_text_layer_rows_are_placed_by_their_characters() -> None:
    text = "ACME\n\n  TOTAL 10.00  \n"
    areas = [(0.04 * i, 0.0, 0.04 * i + 0.03, 0.1) if not c.isspace() else None
             for i, c in enumerate(text)]  # fmt: skip

    acme, total = rows_from_text(text, page=1, areas=areas)

    assert acme.area == pytest.approx((0.0, 0.0, 0.15, 0.1))
    assert total.area == pytest.approx((0.32, 0.0, 0.75, 0.1))  # "TOTAL" to "10.00", no spaces
    assert total.box is None  # the rules read text layers by order, not position


def test_rows_become_each_pages_text_with_their_pieces_areas() -> None:
    rows = rows_from_ocr([line("TOTAL", 10, 100), line("9.90", 400, 100)], 1, (1000, 500))
    rows += rows_from_text("Page two", page=2)

    first, second = page_texts(rows)

    assert (first.page, first.text, second.page, second.text) == (1, "TOTAL 9.90", 2, "Page two")
    assert first.area(6, 10) == (0.4, 0.2, 0.44, 0.24)
    assert second.area(0, 8) is None  # a text row without areas
