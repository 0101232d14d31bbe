"""Extractions by content: the same file with the same provider and model is extracted once.

Keyed by the file's sha256 and a digest of (provider, model, `CACHE_VERSION`): bump the version
when a provider's output for the same input changes (a better parser, a new prompt), so old
entries are not reused. A cache failure is never a task failure: it is a miss. The JetStream
bucket behind it is an adapter (`adapters.py`).
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from contracts import Extraction, Usage

# 2: evidence as fractions of the page, for every value (it was pixels, for some).
CACHE_VERSION = 2


def cache_key(sha256: str, provider: str, model: str) -> str:
    # KV keys allow few characters; model names have colons and slashes ("llama3.2:latest").
    variant = hashlib.sha256(f"{CACHE_VERSION}\0{provider}\0{model}".encode()).hexdigest()[:16]
    return f"{sha256}.{variant}"


def reused(extraction: Extraction) -> Extraction:
    """A cached extraction as this task's result: no tokens were spent on it this time."""
    return extraction.model_copy(update={"usage": Usage()})


class ExtractionCache(Protocol):
    async def get(self, sha256: str, provider: str, model: str) -> Extraction | None: ...

    async def put(self, sha256: str, provider: str, model: str, extraction: Extraction) -> None: ...


class NoCache:
    """`INVOICEFLOW_EXTRACTION_CACHE=false`: every file is extracted."""

    async def get(self, sha256: str, provider: str, model: str) -> Extraction | None:
        return None

    async def put(self, sha256: str, provider: str, model: str, extraction: Extraction) -> None:
        return None
