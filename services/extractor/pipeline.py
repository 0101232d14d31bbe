"""One extract task, start to hand-over: fetch and normalise (stage `fetch`), extract with the
chosen provider (stage `llm_extraction`), then send the extraction on to the validator.

Safe to run twice for one task (redelivery): the progress log skips updates already stored and
the `ValidateInvoice` publish is deduplicated by its `Nats-Msg-Id`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping

import httpx
from faststream.nats import NatsBroker

from contracts import (
    ErrorCode,
    ExtractInvoice,
    ProcessingOptions,
    Stage,
    UpdateType,
    ValidateInvoice,
)
from contracts.names import VALIDATE_SUBJECT
from services.extractor.cache import ExtractionCache, NoCache, reused
from services.extractor.documents import (
    Document,
    DocumentLimits,
    cheap_to_load,
    load_document,
    off_loop_if_big,
)
from services.extractor.fetch import FetchPolicy, ReadBlob, fetch_document
from services.extractor.provider import ExtractionProvider
from services.extractor.settings import ExtractorSettings
from services.messaging.progress_log import ProgressLog
from services.worker.errors import PermanentError
from services.worker.runner import publish_command

Work = Callable[[ProgressLog], Awaitable[None]]


class ExtractionPipeline:
    def __init__(
        self,
        settings: ExtractorSettings,
        read_blob: ReadBlob,
        broker: NatsBroker,
        providers: Mapping[str, ExtractionProvider],
        http: httpx.AsyncClient,
        *,
        cache: ExtractionCache | None = None,
    ) -> None:
        self._read_blob = read_blob
        self._cache: ExtractionCache = cache or NoCache()
        # What "no model asked for" means per provider, so the cache tells models apart.
        self._default_models = {"openai": settings.openai_model, "local": "rapidocr"}
        self._broker = broker
        self._providers = providers
        self._http = http
        self._policy = FetchPolicy(
            public_url=settings.public_url,
            allowed_hosts=settings.fetch_allowed_hosts,
            max_bytes=settings.max_file_bytes,
            timeout_seconds=settings.fetch_timeout_seconds,
        )
        self._limits = DocumentLimits(
            max_pages=settings.max_pages,
            max_image_pixels=settings.max_image_pixels,
            max_image_side=settings.max_image_side,
        )

    def provider_name(self, options: ProcessingOptions) -> str:
        """The requested provider, else `openai` when it is configured, else `local`."""
        if options.model_provider is not None:
            return options.model_provider
        return "openai" if "openai" in self._providers else "local"

    def work(self, command: ExtractInvoice) -> Work:
        async def work(progress: ProgressLog) -> None:
            await progress.append(
                UpdateType.STAGE_START, Stage.FETCH, 5, f"Fetching {command.filename}"
            )
            data = await fetch_document(
                command.blob_url, policy=self._policy, read_blob=self._read_blob, client=self._http
            )
            # Decoding, resizing and rendering big documents is CPU work: keep it off the loop.
            document, sha256 = await off_loop_if_big(
                not cheap_to_load(data), lambda: self._load(data)
            )
            pages = len(document.pages)
            await progress.append(
                UpdateType.STAGE_COMPLETE, Stage.FETCH, 10, f"Fetched {pages} page(s)"
            )

            name = self.provider_name(command.options)
            await progress.append(
                UpdateType.STAGE_START, Stage.LLM_EXTRACTION, 10, f"Extracting with {name}"
            )
            provider = self._providers.get(name)
            if provider is None:
                raise PermanentError(
                    ErrorCode.PROVIDER_NOT_CONFIGURED, f"the {name} provider is not configured"
                )

            async def report(value: int, message: str) -> None:
                value = min(max(value, 11), 79)  # strictly inside the stage's 10–80
                await progress.append(UpdateType.PROGRESS, Stage.LLM_EXTRACTION, value, message)

            model = command.options.model or self._default_models.get(name, "default")
            cached = await self._cache.get(sha256, name, model)
            if cached is not None:
                extraction = reused(cached)
                done = f"Reused the extraction of an identical file ({provider.name})"
            else:
                extraction = await provider.extract(
                    document, model=command.options.model, report=report
                )
                await self._cache.put(sha256, name, model, extraction)
                done = f"Extracted {pages} page(s) with {provider.name}"
            await progress.append(UpdateType.STAGE_COMPLETE, Stage.LLM_EXTRACTION, 80, done)
            # Appended before publishing: the validator's updates must come after ours.
            await publish_command(
                self._broker,
                VALIDATE_SUBJECT,
                ValidateInvoice(
                    task_id=command.task_id,
                    tenant=command.tenant,
                    filename=command.filename,
                    options=command.options,
                    extraction=extraction,
                    sha256=sha256,
                    progress_mark=progress.mark(),
                ),
            )

        return work

    def _load(self, data: bytes) -> tuple[Document, str]:
        return load_document(data, self._limits), hashlib.sha256(data).hexdigest()
