"""Wiring: the extract stage's worker, its providers and its access to the blob store."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from contracts import ProcessingOptions
from contracts.pipeline import EXTRACT
from services.extractor.adapters import BlobAccess, KeyValueCache
from services.extractor.cache import ExtractionCache, NoCache
from services.extractor.einvoice import standard
from services.extractor.local_provider import LocalProvider
from services.extractor.ocr import OcrEngine
from services.extractor.openai_provider import (
    MODEL_DEPENDENCY,
    OpenAIProvider,
    provider_from_settings,
)
from services.extractor.pipeline import ExtractionPipeline
from services.extractor.provider import ExtractionProvider
from services.extractor.settings import ExtractorSettings
from services.messaging.jetstream import extractions_bucket
from services.pages.decode_pool import (
    DecodePool,
    PoolLimits,
    return_large_buffers_to_the_system,
)
from services.worker.worker import Worker

log = logging.getLogger(__name__)


class ExtractorWorker(Worker):
    """The shared worker plus the extractor's own clients, closed when it stops."""

    def __init__(self, settings: ExtractorSettings) -> None:
        # The model endpoint is a dependency only where one is configured.
        waits_for = (MODEL_DEPENDENCY,) if settings.openai_api_key else ()
        super().__init__(settings, EXTRACT, dependencies=waits_for)
        # No redirects ever: a redirect could lead anywhere, past the host allowlist.
        self.http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self.settings_einvoice_schematron = settings.einvoice_schematron
        # Decoding and OCR of untrusted documents run in these processes, under a budget; the
        # pages they hand back leave this process with their task.
        return_large_buffers_to_the_system()
        self.decode_pool = DecodePool(
            PoolLimits(
                processes=settings.decode_processes,
                seconds=settings.decode_seconds,
                max_tasks=settings.decode_max_tasks,
                max_rss_mb=settings.decode_max_rss_mb,
                memory_limit_mb=settings.decode_memory_limit_mb,
                idle_seconds=settings.decode_idle_seconds,
            ),
            preload=("services.extractor.documents",),
        )
        # One engine for both providers: `ocr_threads` bounds the replica's OCR runs in all.
        ocr = OcrEngine(settings.ocr_threads, self.decode_pool)
        self.openai: OpenAIProvider | None = provider_from_settings(settings, ocr, held=self.held)
        providers: dict[str, ExtractionProvider] = {"local": LocalProvider(ocr)}
        if self.openai is not None:
            providers["openai"] = self.openai
        cache: ExtractionCache = (
            KeyValueCache(lambda: extractions_bucket(self.js, settings.stream_replicas))
            if settings.extraction_cache
            else NoCache()
        )
        blobs = BlobAccess(lambda: self.js, settings.stream_replicas)
        self.pipeline = ExtractionPipeline(
            settings,
            blobs.read,
            providers,
            self.http,
            cache=cache,
            decoder=self.decode_pool,
            keep_blob=blobs.keep,
        )

    async def start(self) -> None:
        # The e-invoice schemas and Schematron take about a second of CPU to compile: before
        # the replica takes work, not on its first invoice nor beside its first tasks.
        if self.settings_einvoice_schematron:
            await asyncio.to_thread(standard.warm_up)
        await super().start()

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            with contextlib.suppress(Exception):
                await self.http.aclose()
            if self.openai is not None:
                with contextlib.suppress(Exception):
                    await self.openai.close()
            # After the drain: whatever still ran has finished or been handed back.
            await self.decode_pool.close()


def build_worker(settings: ExtractorSettings) -> ExtractorWorker:
    worker = ExtractorWorker(settings)
    worker.handle(worker.pipeline.handle)
    log.info("default provider: %s", worker.pipeline.provider_name(ProcessingOptions()))
    return worker
