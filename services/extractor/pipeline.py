"""The extract step of one task: fetch and normalise (stage `fetch`), extract with the chosen
provider (stage `llm_extraction`), and the `ValidateInvoice` that hands the task on.

Safe to run twice for one task (redelivery): the progress log skips updates already stored and
the `ValidateInvoice` is deduplicated by its `Nats-Msg-Id`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import httpx

from contracts import (
    ErrorCode,
    ExtractInvoice,
    Extraction,
    ProcessingOptions,
    Stage,
    ValidateInvoice,
)
from contracts.media import PDF, SNIFF_BYTES, XML, sniff_media_type
from services.extractor.cache import ExtractionCache, NoCache, reused
from services.extractor.documents import Document, cheap_to_load, load_document
from services.extractor.einvoice import reader as einvoice
from services.extractor.einvoice.attachments import EInvoiceSource, find_einvoice
from services.extractor.fetch import FetchPolicy, KeepBlob, ReadBlob, fetch_document, own_blob_id
from services.extractor.open_document import DocumentSlots, OpenDocument, Slot
from services.extractor.provider import ExtractionProvider
from services.extractor.settings import ExtractorSettings
from services.pages.decode_pool import InThread, Runner
from services.pages.render import DocumentLimits
from services.telemetry.metrics import MODEL_CALLS, MODEL_TOKENS, model_label
from services.telemetry.tracing import tracer
from services.worker.errors import DependencyUnavailableError, PermanentError, StageError
from services.worker.handler import StageProgress, StageReport


class ExtractionPipeline:
    def __init__(
        self,
        settings: ExtractorSettings,
        read_blob: ReadBlob,
        providers: Mapping[str, ExtractionProvider],
        http: httpx.AsyncClient,
        *,
        cache: ExtractionCache | None = None,
        decoder: Runner | None = None,
        keep_blob: KeepBlob | None = None,
    ) -> None:
        self._read_blob = read_blob
        self._slots = DocumentSlots(settings.open_documents)
        self._keep_blob = keep_blob or _keep_nothing
        # Where documents too big to decode inline are decoded: the decode pool in the service.
        self._decoder: Runner = decoder or InThread()
        self._cache: ExtractionCache = cache or NoCache()
        # What "no model asked for" means per provider, so the cache tells models apart.
        self._default_models = {"openai": settings.openai_model, "local": "rapidocr"}
        self._known_models = frozenset(self._default_models.values())
        self._providers = providers
        self._einvoice_schematron = settings.einvoice_schematron
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

    async def handle(self, command: ExtractInvoice, report: StageReport) -> ValidateInvoice:
        # A free slot first: the document's pages are in memory from its fetch until the
        # provider closes it (the openai provider: once its request is built).
        slot = await self._slots.reserve()
        try:
            return await self._handle(command, report, slot)
        finally:
            slot.release()

    async def _handle(
        self, command: ExtractInvoice, report: StageReport, slot: Slot
    ) -> ValidateInvoice:
        async with report.stage(Stage.FETCH, f"Fetching {command.filename}") as fetch:
            opened, sha256, source = await self._fetch(command, slot)
            fetch.done(
                "Fetched an e-invoice (XML)"
                if source is not None and not source.embedded
                else f"Fetched {opened.page_count} page(s)"
            )
        if source is not None:
            # An e-invoice is read from its XML, whatever provider the options name.
            async with report.stage(Stage.LLM_EXTRACTION, "Reading the e-invoice") as extraction:
                texts = [page.text for page in opened.document.pages]
                opened.close()
                extracted = await einvoice.read_off_loop(
                    source, texts, schematron=self._einvoice_schematron
                )
                extraction.done(f"Read the {extracted.einvoice and extracted.einvoice.syntax} XML")
        else:
            name = self.provider_name(command.options)
            async with report.stage(Stage.LLM_EXTRACTION, f"Extracting with {name}") as extraction:
                extracted = await self._extract(command, opened, sha256, name, extraction)
        return ValidateInvoice(
            task_id=command.task_id,
            tenant=command.tenant,
            filename=command.filename,
            options=command.options,
            extraction=extracted,
            sha256=sha256,
        )

    async def _fetch(
        self, command: ExtractInvoice, slot: Slot
    ) -> tuple[OpenDocument, str, EInvoiceSource | None]:
        data = await fetch_document(
            command.blob_url, policy=self._policy, read_blob=self._read_blob, client=self._http
        )
        sha256 = hashlib.sha256(data).hexdigest()
        source = await self._einvoice_source(data)
        if source is not None and not source.embedded:
            document = Document(XML, ())
        elif cheap_to_load(data):
            document = load_document(data, self._limits)
        else:
            # Decoding, resizing and rendering is CPU and memory: off the loop, under a budget.
            document = await self._decoder.run(load_document, data, self._limits)
        if own_blob_id(command.blob_url, self._policy.public_url) is None:
            # Fetched from elsewhere: kept with the uploads (once it proved to be a document),
            # so the invoice saved from it has its document too; our own blobs are there already.
            await self._keep_blob(data, document.media_type)
        return OpenDocument(document, slot), sha256, source

    async def _einvoice_source(self, data: bytes) -> EInvoiceSource | None:
        """The upload's e-invoice: a PDF's attachments are read by pypdf under the decoder's
        budget, as its pages are; an XML upload is its own."""
        if sniff_media_type(data[:SNIFF_BYTES]) == PDF:
            return await self._decoder.run(find_einvoice, data)
        return find_einvoice(data)

    async def _extract(
        self,
        command: ExtractInvoice,
        opened: OpenDocument,
        sha256: str,
        name: str,
        stage: StageProgress,
    ) -> Extraction:
        provider = self._providers.get(name)
        if provider is None:
            raise PermanentError(
                ErrorCode.PROVIDER_NOT_CONFIGURED, f"the {name} provider is not configured"
            )
        model = command.options.model or self._default_models.get(name, "default")
        cached = await self._cache.get(sha256, name, model)
        if cached is not None:
            opened.close()
            stage.done(f"Reused the extraction of an identical file ({provider.name})")
            return reused(cached)
        extraction = await self._call(
            provider, opened, name=name, model=model, command=command, stage=stage
        )
        await self._cache.put(sha256, name, model, extraction)
        stage.done(f"Extracted {opened.page_count} page(s) with {provider.name}")
        return extraction

    async def _call(
        self,
        provider: ExtractionProvider,
        opened: OpenDocument,
        *,
        name: str,
        model: str,
        command: ExtractInvoice,
        stage: StageProgress,
    ) -> Extraction:
        """The provider's extraction, measured: a span, its outcome and its tokens."""
        label = model_label(model, self._known_models)
        with tracer().start_as_current_span("model call") as span:
            span.set_attribute("invoiceflow.provider", name)
            span.set_attribute("invoiceflow.model", label)
            try:
                extraction = await provider.extract(
                    opened, model=command.options.model, report=stage.progress
                )
            except StageError as exc:
                MODEL_CALLS.labels(name, label, exc.code).inc()
                raise
            except DependencyUnavailableError:
                MODEL_CALLS.labels(name, label, "unavailable").inc()
                raise
        MODEL_CALLS.labels(name, label, "ok").inc()
        MODEL_TOKENS.labels(name, label, "input").inc(extraction.usage.input_tokens)
        MODEL_TOKENS.labels(name, label, "output").inc(extraction.usage.output_tokens)
        return extraction


async def _keep_nothing(data: bytes, content_type: str) -> None:
    return None
