"""Page text with positions: unions, pixel boxes as fractions, OCR pieces joined into text."""

from __future__ import annotations

import pytest

from services.extractor.page_text import PageText, in_pixels, union


def test_union_spans_the_known_areas_and_none_is_unknown() -> None:
    assert union([(0.1, 0.2, 0.3, 0.4), None, (0.2, 0.1, 0.5, 0.3)]) == (0.1, 0.1, 0.5, 0.4)
    assert union([None, None]) is None
    assert union([]) is None


def test_pixel_boxes_become_fractions_of_the_image_clamped_to_it() -> None:
    assert in_pixels((50, 30, 150, 60), (200, 100)) == (0.25, 0.3, 0.75, 0.6)
    assert in_pixels((-3, 0, 210, 100), (200, 100)) == (0.0, 0.0, 1.0, 1.0)


def test_pieces_are_joined_and_each_character_keeps_its_piece_area() -> None:
    label, value = (0.1, 0.5, 0.3, 0.55), (0.6, 0.5, 0.8, 0.55)
    page = PageText.from_pieces(2, [[("Total", label), ("193.00", value)], [("Thanks", None)]])

    assert page.text == "Total 193.00\nThanks"
    start = page.text.index("193.00")
    assert page.area(start, start + 6) == value
    assert page.area(0, start + 6) == (0.1, 0.5, 0.8, 0.55)  # the space between is no area
    assert page.area(page.text.index("Thanks"), len(page.text)) is None


def test_unplaced_text_has_no_areas_and_the_lengths_must_agree() -> None:
    assert PageText.unplaced(1, "abc").area(0, 3) is None
    with pytest.raises(ValueError, match="one area per character"):
        PageText(1, "abc", (None,))
