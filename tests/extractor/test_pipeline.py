"""The extract step's order of work, run by the real runtime with its NATS side in memory."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

from contracts import (
    ErrorCode,
    ExtractInvoice,
    Extraction,
    Invoice,
    ProcessingOptions,
    ValidateInvoice,
)
from contracts.names import VALIDATE_SUBJECT, WORK_STREAM
from contracts.pipeline import EXTRACT
from services.extractor.cache import ExtractionCache
from services.extractor.open_document import OpenDocument
from services.extractor.pipeline import ExtractionPipeline
from services.extractor.provider import ExtractionProvider, ReportProgress
from services.extractor.settings import ExtractorSettings
from services.pages.decode_pool import InThread, Runner
from services.worker.errors import PermanentError
from testkit.documents import image_bytes, tiff_bytes
from tests.support.stages import StepRun

PNG = image_bytes()
BLOB = hashlib.sha256(PNG).hexdigest()
PUBLIC = "http://localhost:8000"
T = TypeVar("T")


class StubProvider:
    def __init__(self, name: str, reports: tuple[int, ...] = ()) -> None:
        self.name = name
        self.reports = reports
        self.calls: list[tuple[int, str | None]] = []

    async def extract(
        self, opened: OpenDocument, *, model: str | None, report: ReportProgress
    ) -> Extraction:
        self.calls.append((len(opened.document.pages), model))
        for value in self.reports:
            await report(value, f"step {value}")
        return Extraction(invoice=Invoice(total="1.00"), provider=self.name, pages=1)


async def read_blob(blob_id: str, max_bytes: int) -> bytes | None:
    return {BLOB: PNG, "cd" * 32: tiff_bytes(2)}.get(blob_id)


def command(blob: str = BLOB, **options: Any) -> ExtractInvoice:
    return ExtractInvoice(
        task_id=f"task_{uuid.uuid4().hex}",
        tenant="tenant-a",
        filename="receipt.png",
        blob_url=f"{PUBLIC}/blobs/{blob}",
        options=ProcessingOptions(**options),
    )


class MemoryCache:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str, str], Extraction] = {}

    async def get(self, sha256: str, provider: str, model: str) -> Extraction | None:
        return self.entries.get((sha256, provider, model))

    async def put(self, sha256: str, provider: str, model: str, extraction: Extraction) -> None:
        self.entries[(sha256, provider, model)] = extraction


async def run(
    cmd: ExtractInvoice,
    providers: dict[str, ExtractionProvider],
    cache: ExtractionCache | None = None,
    step_run: StepRun | None = None,
    decoder: Runner | None = None,
) -> tuple[StepRun, StepRun]:
    """The extract step run once; the run holds its updates and its publishes."""
    step_run = step_run or StepRun(EXTRACT)
    async with httpx.AsyncClient() as http:
        pipeline = ExtractionPipeline(
            ExtractorSettings(public_url=PUBLIC),
            read_blob,
            providers,
            http,
            cache=cache,
            decoder=decoder,
        )
        await step_run(pipeline.handle, cmd)
    return step_run, step_run


async def test_updates_in_order_then_the_validate_command() -> None:
    openai = StubProvider("openai")
    cmd = command(model="gpt-x")

    progress, broker = await run(cmd, {"openai": openai, "local": StubProvider("local")})

    assert progress.seen() == [
        ("stage_start", "fetch", 5),
        ("stage_complete", "fetch", 10),
        ("stage_start", "llm_extraction", 10),
        ("stage_complete", "llm_extraction", 80),
    ]
    assert progress.updates[1].message == "Fetched 1 page(s)"
    assert "openai" in progress.updates[2].message
    assert openai.calls == [(1, "gpt-x")]
    [(subject, body, kwargs)] = broker.published
    assert subject == VALIDATE_SUBJECT and kwargs["stream"] == WORK_STREAM
    assert kwargs["headers"] == {"Nats-Msg-Id": f"{cmd.task_id}:{VALIDATE_SUBJECT}"}
    sent = ValidateInvoice.model_validate_json(body)
    assert sent.task_id == cmd.task_id and sent.tenant == "tenant-a"
    assert sent.filename == "receipt.png" and sent.options == cmd.options
    assert sent.sha256 == BLOB and sent.extraction.provider == "openai"


async def test_provider_progress_stays_inside_the_stage() -> None:
    local = StubProvider("local", reports=(10, 40, 80))

    progress, _ = await run(command(blob="cd" * 32), {"local": local})

    assert progress.seen()[3:] == [
        ("progress", "llm_extraction", 11),
        ("progress", "llm_extraction", 40),
        ("progress", "llm_extraction", 79),
        ("stage_complete", "llm_extraction", 80),
    ]
    assert progress.updates[1].message == "Fetched 2 page(s)"


@pytest.mark.parametrize(
    ("configured", "requested", "chosen"),
    [
        (("openai", "local"), None, "openai"),
        (("local",), None, "local"),
        (("openai", "local"), "local", "local"),
    ],
)
async def test_provider_choice(
    configured: tuple[str, ...], requested: str | None, chosen: str
) -> None:
    providers = {name: StubProvider(name) for name in configured}

    await run(command(model_provider=requested), dict(providers))

    assert [name for name, p in providers.items() if p.calls] == [chosen]


async def test_openai_without_a_key_is_not_configured() -> None:
    local = StubProvider("local")
    progress = StepRun(EXTRACT)

    with pytest.raises(PermanentError) as caught:
        await run(command(model_provider="openai"), {"local": local}, step_run=progress)

    assert caught.value.code == ErrorCode.PROVIDER_NOT_CONFIGURED
    assert progress.seen()[-1] == ("stage_start", "llm_extraction", 10)
    assert local.calls == []


async def test_fetch_failure_stops_before_any_provider() -> None:
    local = StubProvider("local")

    with pytest.raises(PermanentError) as caught:
        await run(command(blob="ef" * 32), {"local": local})

    assert caught.value.code == ErrorCode.BLOB_NOT_FOUND
    assert local.calls == []


async def test_running_twice_repeats_no_update() -> None:
    # A redelivered message runs the whole pipeline again on the same task.
    cmd = command()
    providers: dict[str, ExtractionProvider] = {"local": StubProvider("local")}
    progress, broker = await run(cmd, providers)
    await run(cmd, providers, step_run=progress)

    assert len(progress.updates) == 4
    # Both publishes carry the same Nats-Msg-Id, so JetStream keeps one.
    assert len({kwargs["headers"]["Nats-Msg-Id"] for _, _, kwargs in broker.published}) == 1


async def test_the_same_file_is_extracted_once_with_the_cache() -> None:
    openai = StubProvider("openai")
    cache = MemoryCache()
    providers: dict[str, ExtractionProvider] = {"openai": openai}

    _, first = await run(command(), providers, cache)
    progress, second = await run(command(), providers, cache)

    assert openai.calls == [(1, None)]
    assert progress.seen()[-1] == ("stage_complete", "llm_extraction", 80)
    assert progress.updates[-1].message.startswith("Reused the extraction")
    before = ValidateInvoice.model_validate_json(first.published[0][1]).extraction
    after = ValidateInvoice.model_validate_json(second.published[0][1]).extraction
    assert after.invoice == before.invoice and after.provider == "openai"
    assert list(cache.entries) == [(BLOB, "openai", "gpt-4o-mini")]


async def test_another_model_or_provider_is_extracted_again() -> None:
    openai, local = StubProvider("openai"), StubProvider("local")
    cache = MemoryCache()
    providers: dict[str, ExtractionProvider] = {"openai": openai, "local": local}

    await run(command(), providers, cache)
    await run(command(model="gpt-4o"), providers, cache)
    await run(command(model_provider="local"), providers, cache)

    assert openai.calls == [(1, None), (1, "gpt-4o")] and local.calls == [(1, None)]


async def test_without_a_cache_every_upload_is_extracted() -> None:
    openai = StubProvider("openai")

    await run(command(), {"openai": openai})
    await run(command(), {"openai": openai})

    assert len(openai.calls) == 2


async def test_failed_extractions_are_not_cached() -> None:
    class Failing(StubProvider):
        async def extract(
            self, opened: OpenDocument, *, model: str | None, report: ReportProgress
        ) -> Extraction:
            raise PermanentError(ErrorCode.PROVIDER_REFUSED, "no")

    cache = MemoryCache()
    with pytest.raises(PermanentError):
        await run(command(), {"openai": Failing("openai")}, cache)

    assert cache.entries == {}


class RecordingRunner(InThread):
    def __init__(self) -> None:
        self.jobs: list[str] = []

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        self.jobs.append(fn.__name__)
        return await super().run(fn, *args)


async def test_documents_not_cheap_to_load_are_decoded_by_the_decoder() -> None:
    decoder = RecordingRunner()
    local = StubProvider("local")

    await run(command(), {"local": local}, decoder=decoder)  # a small PNG: inline
    assert decoder.jobs == []

    progress, _ = await run(command(blob="cd" * 32), {"local": local}, decoder=decoder)
    assert decoder.jobs == ["load_document"]  # a TIFF: never inline
    assert progress.updates[1].message == "Fetched 2 page(s)"


async def test_an_upload_of_ours_is_not_stored_again() -> None:
    # Documents fetched from elsewhere are kept: tests/extractor/test_app.py, on real NATS.
    kept: list[bytes] = []

    async def keep_blob(data: bytes, content_type: str) -> None:
        kept.append(data)

    async with httpx.AsyncClient() as http:
        pipeline = ExtractionPipeline(
            ExtractorSettings(public_url=PUBLIC),
            read_blob,
            {"local": StubProvider("local")},
            http,
            keep_blob=keep_blob,
        )
        await StepRun(EXTRACT)(pipeline.handle, command(model_provider="local"))

    assert kept == []


class WaitingProvider(StubProvider):
    """Waits for `go`; closes its document first when `closes` (as `openai` does once its
    request is built)."""

    def __init__(self, closes: bool) -> None:
        super().__init__("openai")
        self.closes = closes
        self.waiting = 0
        self.most = 0
        self.go = asyncio.Event()

    async def extract(
        self, opened: OpenDocument, *, model: str | None, report: ReportProgress
    ) -> Extraction:
        if self.closes:
            opened.close()
        self.waiting += 1
        self.most = max(self.most, self.waiting)
        try:
            await self.go.wait()
        finally:
            self.waiting -= 1
        return Extraction(invoice=Invoice(total="1.00"), provider=self.name, pages=1)


@pytest.mark.parametrize(("closes", "at_once"), [(True, 3), (False, 1)])
async def test_open_documents_bound_the_tasks_that_hold_their_pages(
    closes: bool, at_once: int
) -> None:
    provider = WaitingProvider(closes)
    runs = [StepRun(EXTRACT) for _ in range(3)]
    async with httpx.AsyncClient() as http:
        settings = ExtractorSettings(public_url=PUBLIC, open_documents=1)
        pipeline = ExtractionPipeline(settings, read_blob, {"openai": provider}, http)
        running = [asyncio.create_task(run(pipeline.handle, command())) for run in runs]

        async def waiting() -> None:
            while provider.waiting < at_once:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(waiting(), 10)
        # The others wait for the slot before their fetch starts: nothing decoded, no update.
        assert sum(1 for run in runs if run.seen()) == at_once
        provider.go.set()
        await asyncio.wait_for(asyncio.gather(*running), 10)

    assert provider.most == at_once
    assert all(run.seen()[-1] == ("stage_complete", "llm_extraction", 80) for run in runs)
