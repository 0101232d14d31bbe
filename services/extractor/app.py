"""Wiring: the extract stage's worker, its providers and its access to the blob store."""

from __future__ import annotations

import contextlib
import logging

import httpx
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError

from contracts import ErrorCode, ExtractInvoice, ProcessingOptions, Stage
from contracts.names import EXTRACT_CONSUMER, EXTRACT_SUBJECT
from services.extractor.cache import ExtractionCache, KeyValueCache, NoCache
from services.extractor.local_provider import LocalProvider
from services.extractor.ocr import OcrEngine
from services.extractor.openai_provider import OpenAIProvider, provider_from_settings
from services.extractor.pipeline import ExtractionPipeline
from services.extractor.provider import ExtractionProvider
from services.extractor.settings import ExtractorSettings
from services.messaging.blobs import BlobCorruptError, BlobTooLargeError, NatsObjectBlobStore
from services.messaging.jetstream import blobs_bucket, extractions_bucket
from services.worker.errors import PermanentError, TransientError
from services.worker.worker import Worker

log = logging.getLogger(__name__)


class BlobReader:
    """`read_blob` for the fetch logic: our own uploads, straight from the object store."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._store: NatsObjectBlobStore | None = None

    async def __call__(self, blob_id: str, max_bytes: int) -> bytes | None:
        try:
            if self._store is None:
                js = self._worker.js
                self._store = NatsObjectBlobStore(js, await blobs_bucket(js))
            blob = await self._store.get(blob_id, max_bytes)
        except BlobTooLargeError as exc:
            raise PermanentError(
                ErrorCode.FILE_TOO_LARGE, f"the document is over the limit of {max_bytes} bytes"
            ) from exc
        except BlobCorruptError as exc:
            raise PermanentError(ErrorCode.FETCH_FAILED, str(exc)) from exc
        except NotFoundError:
            return None  # deleted while it was read
        except (NatsError, TimeoutError) as exc:
            raise TransientError(
                ErrorCode.FETCH_FAILED, f"cannot read blob {blob_id}: {exc}"
            ) from exc
        return blob.data if blob is not None else None


class ExtractorWorker(Worker):
    """The shared worker plus the extractor's own clients, closed when it stops."""

    def __init__(self, settings: ExtractorSettings) -> None:
        super().__init__(
            settings, consumer=EXTRACT_CONSUMER, subject=EXTRACT_SUBJECT, first_stage=Stage.FETCH
        )
        # No redirects ever: a redirect could lead anywhere, past the host allowlist.
        self.http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self.openai: OpenAIProvider | None = provider_from_settings(settings)
        providers: dict[str, ExtractionProvider] = {
            "local": LocalProvider(OcrEngine(settings.ocr_threads))
        }
        if self.openai is not None:
            providers["openai"] = self.openai
        cache: ExtractionCache = (
            KeyValueCache(lambda: extractions_bucket(self.js))
            if settings.extraction_cache
            else NoCache()
        )
        self.pipeline = ExtractionPipeline(
            settings, BlobReader(self), self.broker, providers, self.http, cache=cache
        )

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            with contextlib.suppress(Exception):
                await self.http.aclose()
            if self.openai is not None:
                with contextlib.suppress(Exception):
                    await self.openai.close()


def build_worker(settings: ExtractorSettings) -> ExtractorWorker:
    worker = ExtractorWorker(settings)
    pipeline = worker.pipeline

    @worker.subscribe
    async def extract(command: ExtractInvoice) -> None:
        await worker.run_stage(command, pipeline.work(command))

    log.info("default provider: %s", pipeline.provider_name(ProcessingOptions()))
    return worker
