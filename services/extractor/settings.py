"""Extractor settings: built once in `__main__` and passed in, never read from globals."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AliasChoices, Field, field_validator, model_validator

from services.egress.hosts import AllowedHosts
from services.pages.render import DocumentLimits
from services.worker.settings import WorkerSettings

MB = 1024 * 1024

EvidenceOcr = Literal["auto", "on", "off"]

# Messages held and model calls made at once by a replica with the `openai` provider configured,
# unless set: a message waiting on the model holds its request, not its pages (`open_documents`
# bounds those), so a replica can wait on many calls; with 16, 200 tasks on a 0.5 s model ran at
# 25-27 tasks/s, with 64 at 51-60 (docs/benchmarks.md, "A slow model"). Without a key the work
# is OCR, bounded by the CPU: the shared default (16) keeps a replica from taking more than it
# reads in a few seconds, so others (and KEDA's) get the rest.
MODEL_IN_FLIGHT = 64


class ExtractorSettings(WorkerSettings):
    metrics_port: int = Field(default=9101, ge=0, le=65535)
    # The OpenAI SDK's own variable names, so an existing deployment's environment just works.
    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "INVOICEFLOW_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "INVOICEFLOW_OPENAI_BASE_URL"),
    )
    openai_model: str = "gpt-4o-mini"
    openai_timeout_seconds: float = Field(default=60.0, gt=0)
    openai_max_retries: int = Field(default=2, ge=0)
    # Calls to the model one replica makes at once (the rest wait, their messages kept alive).
    # Unset, as many as the messages it takes at once (max_in_flight, MODEL_IN_FLIGHT with a
    # key): a burst runs in as few rounds of model latency as it can; lower it (or both) for a
    # rate-limited account.
    openai_max_concurrency: int = Field(default=16, ge=1)
    # Pages sent in one request; longer documents are refused with too_many_pages.
    openai_max_pages_per_request: int = Field(default=10, ge=1)

    # The same file (sha256) with the same provider and model is extracted once.
    extraction_cache: bool = True
    # Structured e-invoices are checked against the EN 16931 Schematron (Saxon, 10-60 ms each);
    # off leaves the XSD, XRechnung and arithmetic checks (docs/einvoices.md).
    einvoice_schematron: bool = True

    # Where the gateway serves `/blobs/<id>`: such URLs are read straight from the object store.
    public_url: str | None = None
    # Hosts other URLs may be fetched from: exact names, `*.example.com`, or `*` (any public host).
    fetch_allowed_hosts: AllowedHosts = ()
    fetch_timeout_seconds: float = Field(default=30.0, gt=0)

    max_file_bytes: int = Field(default=10 * MB, ge=1)
    max_pages: int = Field(default=DocumentLimits.max_pages, ge=1)
    max_image_pixels: int = Field(default=DocumentLimits.max_image_pixels, ge=1)
    # Pages are scaled down to this longest side: enough for OCR and vision models, bounded memory.
    max_image_side: int = Field(default=DocumentLimits.max_image_side, ge=64)
    # Documents open at once per replica: fetched and decoded, their pages in memory, until
    # the provider has what it needs from them (`openai`: its request built; `local`: read).
    open_documents: int = Field(default=16, ge=1)
    # OCR runs at once per replica (each in a decode process, below).
    ocr_threads: int = Field(default=2, ge=1)
    # The openai provider's evidence for scanned pages and images comes from an OCR pass beside
    # the model call (it grounds them too): `auto` runs it where it is cheap (at most
    # EVIDENCE_OCR_AUTO_PAGES pages of EVIDENCE_OCR_AUTO_PIXELS in all), `on` always, `off` never.
    evidence_ocr: EvidenceOcr = "auto"

    # Decoding, rendering and OCR of documents run in this many worker processes, each job
    # within `decode_seconds` (over it: document_too_complex) and each process within
    # `decode_memory_limit_mb` of heap; a process is replaced after `decode_max_tasks` jobs or
    # once its resident memory is over `decode_max_rss_mb`, so memory comes back.
    decode_processes: int = Field(default=2, ge=1)
    decode_seconds: float = Field(default=60.0, gt=0)
    decode_max_tasks: int = Field(default=100, ge=1)
    decode_max_rss_mb: int = Field(default=1024, ge=64)
    decode_memory_limit_mb: int = Field(default=1536, ge=0)
    # A decode process idle this long ends, so a quiet replica gives its memory back (0: never).
    decode_idle_seconds: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _model_calls_are_cheap_to_wait_on(self) -> Self:
        if self.openai_api_key and "max_in_flight" not in self.model_fields_set:
            self.max_in_flight = MODEL_IN_FLIGHT
        if "openai_max_concurrency" not in self.model_fields_set:
            self.openai_max_concurrency = self.max_in_flight
        return self

    @field_validator("openai_api_key", "openai_base_url", "public_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # docker-compose passes `${OPENAI_API_KEY:-}` as an empty string when it is unset.
        if isinstance(value, str) and not value.strip():
            return None
        return value
