"""What the pipeline needs from an extraction provider (`openai`, `local`, or a test double)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from contracts import Extraction
from services.extractor.open_document import OpenDocument

# `report(progress, message)`: an optional progress update, kept inside the llm_extraction stage.
ReportProgress = Callable[[int, str], Awaitable[None]]


async def no_report(progress: int, message: str) -> None:
    """A `ReportProgress` that reports nothing."""


class ExtractionProvider(Protocol):
    @property
    def name(self) -> str: ...

    async def extract(
        self, opened: OpenDocument, *, model: str | None, report: ReportProgress
    ) -> Extraction:
        """The extraction of `opened`; the provider may close it once it has what it needs
        from the pages (the pipeline closes it after in any case)."""
        ...
