"""A fetched document held open: its decoded pages in memory, under one of the replica's
`open_documents` slots (`DocumentSlots`).

Whoever has taken what it needs from the pages closes it. The `openai` provider closes it as
soon as its request is built, so a message waiting on a slow model keeps its request (JPEGs
at the size the model looks at, a few hundred KiB a page) and not its decoded pages (up to
2048 px a side, about 12 MiB each): a replica can hold many model calls at once while the
memory for pages stays bounded by the slots.
"""

from __future__ import annotations

import asyncio

from services.extractor.documents import Document


class Slot:
    """One of the slots, released once however often `release` is called."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots: asyncio.Semaphore | None = slots

    def release(self) -> None:
        if self._slots is not None:
            self._slots.release()
            self._slots = None


class DocumentSlots:
    """At most `count` documents open at once on a replica; `reserve` waits for a free one."""

    def __init__(self, count: int) -> None:
        self._slots = asyncio.Semaphore(count)

    @property
    def all_taken(self) -> bool:
        return self._slots.locked()

    async def reserve(self) -> Slot:
        await self._slots.acquire()
        return Slot(self._slots)


class OpenDocument:
    """`document` until `close()`; what is known of it without its pages stays after."""

    def __init__(self, document: Document, slot: Slot | None = None) -> None:
        self._document: Document | None = document
        self._slot = slot
        self.media_type = document.media_type
        self.page_count = len(document.pages)

    @property
    def document(self) -> Document:
        if self._document is None:
            raise RuntimeError("the document was closed")
        return self._document

    def close(self) -> None:
        """Its pages are let go (and its slot with them); closing twice is closing once."""
        self._document = None
        if self._slot is not None:
            self._slot.release()
