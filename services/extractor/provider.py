"""What the pipeline needs from an extraction provider (`openai`, `local`, or a test double)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from contracts import Extraction
from services.extractor.documents import Document

# `report(progress, message)`: an optional progress update, kept inside the llm_extraction stage.
ReportProgress = Callable[[int, str], Awaitable[None]]


async def no_report(progress: int, message: str) -> None:
    """A `ReportProgress` that reports nothing."""


class ExtractionProvider(Protocol):
    @property
    def name(self) -> str: ...

    async def extract(
        self, document: Document, *, model: str | None, report: ReportProgress
    ) -> Extraction: ...
