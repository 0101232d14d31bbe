"""Extractions by content: the same file with the same provider and model is extracted once.

Keyed by the file's sha256 and a digest of (provider, model, `CACHE_VERSION`): bump the version
when a provider's output for the same input changes (a better parser, a new prompt), so old
entries are not reused. A cache failure is never a task failure: it is a miss.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from contracts import Extraction, Usage

log = logging.getLogger(__name__)

CACHE_VERSION = 1


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


class KeyValueCache:
    """Entries in the JetStream key-value bucket `invoiceflow_extractions`, shared by replicas.

    The bucket is opened on first use: the worker's NATS connection does not exist before.
    """

    def __init__(self, open_bucket: Callable[[], Awaitable[KeyValue]]) -> None:
        self._open_bucket = open_bucket
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self._open_bucket()
        return self._kv

    async def get(self, sha256: str, provider: str, model: str) -> Extraction | None:
        key = cache_key(sha256, provider, model)
        try:
            entry = await (await self._bucket()).get(key)
        except KeyNotFoundError:
            return None
        except Exception as exc:  # a cache failure is a miss, never a task failure
            log.warning("extraction cache unavailable, extracting again: %s", exc)
            return None
        if not entry.value:
            return None
        try:
            return Extraction.model_validate_json(entry.value)
        except ValidationError:
            # Written by an incompatible version: extract again, and overwrite it then.
            return None

    async def put(self, sha256: str, provider: str, model: str, extraction: Extraction) -> None:
        try:
            kv = await self._bucket()
            await kv.put(cache_key(sha256, provider, model), extraction.model_dump_json().encode())
        except Exception as exc:  # the task has its extraction; only reuse is lost
            log.warning("could not cache the extraction of %s: %s", sha256, exc)
