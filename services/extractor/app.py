"""Wiring: the extract stage's worker, its providers and its access to the blob store."""

from __future__ import annotations

import contextlib
import io
import logging

import httpx
from faststream.nats import NatsMessage
from nats.errors import Error as NatsError
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from contracts import ErrorCode, ExtractInvoice, ProcessingOptions, Stage
from contracts.names import EXTRACT_CONSUMER, EXTRACT_SUBJECT
from services.common.errors import PermanentError, TransientError
from services.common.jetstream import blobs_bucket
from services.common.worker import Worker
from services.extractor.local_provider import LocalProvider
from services.extractor.ocr import OcrEngine
from services.extractor.openai_provider import OpenAIProvider, provider_from_settings
from services.extractor.pipeline import ExtractionPipeline
from services.extractor.provider import ExtractionProvider
from services.extractor.settings import ExtractorSettings

log = logging.getLogger(__name__)


class BlobReader:
    """`read_blob` for the fetch logic: our own uploads, straight from the object store."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._store: ObjectStore | None = None

    async def __call__(self, blob_id: str, max_bytes: int) -> bytes | None:
        try:
            if self._store is None:
                self._store = await blobs_bucket(self._worker.js)
            try:
                info = await self._store.get_info(blob_id)
            except ObjectNotFoundError:
                return None
            if info.size is not None and info.size > max_bytes:
                raise PermanentError(
                    ErrorCode.FILE_TOO_LARGE, f"the document is over the limit of {max_bytes} bytes"
                )
            # Chunks are written into one buffer rather than concatenated bytes (quadratic).
            buffer = io.BytesIO()
            await self._store.get(blob_id, writeinto=buffer)
            return buffer.getvalue()
        except ObjectNotFoundError:
            return None  # deleted between the two reads
        except (NatsError, TimeoutError) as exc:
            raise TransientError(
                ErrorCode.FETCH_FAILED, f"cannot read blob {blob_id}: {exc}"
            ) from exc


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
        self.pipeline = ExtractionPipeline(
            settings, BlobReader(self), self.broker, providers, self.http
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
    async def extract(command: ExtractInvoice, msg: NatsMessage) -> None:
        await worker.runner.run(msg, command, pipeline.work(command))

    log.info("default provider: %s", pipeline.provider_name(ProcessingOptions()))
    return worker
