"""Open documents and their slots (pure logic: no server)."""

from __future__ import annotations

import asyncio

import pytest

from services.extractor.documents import Document, Page
from services.extractor.open_document import DocumentSlots, OpenDocument


async def test_closing_twice_frees_one_slot() -> None:
    slots = DocumentSlots(1)
    opened = OpenDocument(Document("application/pdf", (Page(1, text="a"),)), await slots.reserve())

    opened.close()
    opened.close()

    assert not slots.all_taken
    again = await asyncio.wait_for(slots.reserve(), 1)
    assert slots.all_taken
    again.release()
    assert not slots.all_taken


def test_a_closed_document_keeps_its_page_count_not_its_pages() -> None:
    opened = OpenDocument(Document("image/png", (Page(1), Page(2))))

    opened.close()

    assert opened.page_count == 2 and opened.media_type == "image/png"
    with pytest.raises(RuntimeError):
        _ = opened.document
