"""The extractor worker end to end on a real nats-server: object store in, progress and a
`ValidateInvoice` on the work stream out; failures end in one error update and a dead letter."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts import (
    ExtractInvoice,
    ProcessingOptions,
    TaskDeadLettered,
    TaskUpdated,
    UpdateType,
    ValidateInvoice,
    progress_subject,
)
from contracts.names import (
    DEAD_LETTER_STREAM,
    VALIDATE_SUBJECT,
    WORK_STREAM,
    dead_letter_subject,
)
from contracts.pipeline import EXTRACT
from services.extractor.app import ExtractorWorker, build_worker
from services.extractor.settings import ExtractorSettings
from services.messaging.blobs import NatsObjectBlobStore
from services.messaging.envelopes import command_envelope
from services.messaging.jetstream import blobs_bucket
from services.messaging.progress_stream import progress_log, read_history
from services.worker.outcomes import advance
from testkit.documents import image_bytes, text_pdf
from tests.fakes.asgi import Receive, Scope, Send, respond, serving
from tests.fakes.openai_server import RunningFake, running_fake_openai

PUBLIC = "http://localhost:8000"
TIMEOUT = 20.0
TERMINAL_OR_HANDED_OVER = {UpdateType.ERROR, UpdateType.COMPLETE}


@dataclass
class Harness:
    worker: ExtractorWorker
    client: NatsClient
    fake: RunningFake

    @property
    def js(self) -> JetStreamContext:
        return self.client.jetstream()

    async def upload(self, data: bytes) -> str:
        blob_id = hashlib.sha256(data).hexdigest()
        store = await blobs_bucket(self.js)
        await store.put(blob_id, data)
        return f"{PUBLIC}/blobs/{blob_id}"

    async def submit(self, blob_url: str, **options: Any) -> tuple[ExtractInvoice, Updates]:
        cmd = ExtractInvoice(
            task_id=f"task_{uuid.uuid4().hex}",
            filename="doc",
            blob_url=blob_url,
            options=ProcessingOptions(**options),
        )
        updates = Updates()
        # Subscribed before publishing, so no live update can be missed.
        await self.client.subscribe(progress_subject(cmd.task_id), cb=updates.on_message)
        await self.worker.publish(command_envelope(cmd))
        return cmd, updates

    async def last_message(self, stream: str, subject: str) -> bytes:
        """The stream's last message on `subject`, waiting for one to arrive."""

        async def poll() -> bytes:
            while True:
                with contextlib.suppress(NotFoundError):
                    raw = await self.js.get_last_msg(stream, subject)
                    assert raw.data is not None
                    return raw.data
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(poll(), TIMEOUT)

    async def until_extract_queue_empty(self) -> None:
        async def pending() -> int:
            info = await self.js.consumer_info(WORK_STREAM, "extractor")
            return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

        async def poll() -> None:
            while await pending():
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), TIMEOUT)

    async def validate_command(self) -> ValidateInvoice:
        return ValidateInvoice.model_validate_json(
            await self.last_message(WORK_STREAM, VALIDATE_SUBJECT)
        )


class Updates:
    """Live updates of one task, as the gateway would receive them."""

    def __init__(self) -> None:
        self.items: list[TaskUpdated] = []
        self._changed = asyncio.Event()

    async def on_message(self, msg: Msg) -> None:
        self.items.append(TaskUpdated.model_validate_json(msg.data))
        self._changed.set()

    async def until(self, done: Callable[[TaskUpdated], bool]) -> list[TaskUpdated]:
        async def wait() -> list[TaskUpdated]:
            while not any(done(update) for update in self.items):
                self._changed.clear()
                await self._changed.wait()
            return self.items

        return await asyncio.wait_for(wait(), TIMEOUT)

    async def until_handed_over(self) -> list[TaskUpdated]:
        return await self.until(
            lambda u: (
                u.type in TERMINAL_OR_HANDED_OVER
                or (u.type is UpdateType.STAGE_COMPLETE and u.stage == "llm_extraction")
            )
        )


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def harness(private_nats_url: str) -> AsyncIterator[MakeHarness]:
    stack = contextlib.AsyncExitStack()

    async def make(**overrides: Any) -> Harness:
        fake = await stack.enter_async_context(running_fake_openai())
        settings = ExtractorSettings(
            nats_url=private_nats_url,
            openai_api_key="test-key",
            openai_base_url=fake.base_url,
            openai_max_retries=0,
            public_url=PUBLIC,
            ack_wait_seconds=2.0,
            max_deliver=2,
            retry_backoff_seconds=(0.05,),
            **overrides,
        )
        worker = build_worker(settings)
        await worker.start()
        stack.push_async_callback(worker.stop)
        client = await nats.connect(private_nats_url)
        stack.push_async_callback(client.drain)
        return Harness(worker, client, fake)

    async with stack:
        yield make


async def test_image_goes_from_the_blob_store_to_the_validator(harness: MakeHarness) -> None:
    h = await harness()
    blob_url = await h.upload(image_bytes())

    cmd, live = await h.submit(blob_url)
    updates = await live.until_handed_over()
    sent = await h.validate_command()
    assert sent.task_id == cmd.task_id

    assert [(u.type, u.stage, u.progress) for u in updates] == [
        ("stage_start", "fetch", 5),
        ("stage_complete", "fetch", 10),
        ("stage_start", "llm_extraction", 10),
        ("stage_complete", "llm_extraction", 80),
    ]
    assert [u.seq for u in updates] == [1, 2, 3, 4]
    assert sent.extraction.provider == "openai" and str(sent.extraction.invoice.total) == "193.00"
    assert sent.sha256 == blob_url.rsplit("/", 1)[1]
    assert h.fake.app.requests == 1
    # The extract message gets acked (just after the hand-over): the work queue drops it.
    await h.until_extract_queue_empty()


async def test_local_provider_on_a_text_pdf(harness: MakeHarness) -> None:
    h = await harness()
    blob_url = await h.upload(text_pdf())

    cmd, live = await h.submit(blob_url, model_provider="local")
    await live.until_handed_over()
    sent = await h.validate_command()
    assert sent.task_id == cmd.task_id

    assert sent.extraction.provider == "local"
    assert str(sent.extraction.invoice.total) == "10.00"
    assert h.fake.app.requests == 0


async def test_a_document_fetched_from_elsewhere_is_kept_with_the_uploads(
    harness: MakeHarness,
) -> None:
    # Its saved invoice must have its document (GET /api/invoices/{id}/document), as uploads do.
    pdf = text_pdf([["Fetched from elsewhere"]])

    async def serve_pdf(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, 200, pdf, content_type="application/octet-stream")

    async with serving(serve_pdf) as port:
        h = await harness(fetch_allowed_hosts=("127.0.0.1",))
        blobs = NatsObjectBlobStore(h.js, await blobs_bucket(h.js))
        sha256 = hashlib.sha256(pdf).hexdigest()
        assert await blobs.get(sha256) is None

        _, live = await h.submit(f"http://127.0.0.1:{port}/elsewhere.pdf", model_provider="local")
        await live.until_handed_over()

    kept = await blobs.get(sha256)
    assert kept is not None and kept.data == pdf
    # The type sniffed from the bytes, not what the other server said.
    assert kept.content_type == "application/pdf"
    assert (await h.validate_command()).sha256 == sha256


@dataclass(frozen=True)
class Failure:
    document: bytes | None  # None: no such blob
    model: str | None
    code: str
    stage: str
    progress: int


@pytest.mark.parametrize(
    "case",
    [
        Failure(None, None, "blob_not_found", "fetch", 5),
        Failure(b"\x89PNG\r\n\x1a\n broken", None, "corrupt_document", "fetch", 5),
        Failure(b"GIF89a not accepted", None, "unsupported_media_type", "fetch", 5),
        Failure(image_bytes(), "fake-refuse", "provider_refused", "llm_extraction", 10),
    ],
    ids=lambda case: case.code,
)
async def test_permanent_failure_ends_with_one_error_and_a_dead_letter(
    harness: MakeHarness, case: Failure
) -> None:
    h = await harness()
    blob_url = await h.upload(case.document) if case.document else f"{PUBLIC}/blobs/{'0' * 64}"

    cmd, live = await h.submit(blob_url, model=case.model)
    updates = await live.until(lambda u: u.type is UpdateType.ERROR)

    error = updates[-1]
    assert error.error is not None and error.error.code == case.code
    assert (error.stage, error.progress) == (case.stage, case.progress)
    assert [u.type for u in updates].count(UpdateType.ERROR) == 1
    dead = TaskDeadLettered.model_validate_json(
        await h.last_message(DEAD_LETTER_STREAM, dead_letter_subject("extractor"))
    )
    assert dead.task_id == cmd.task_id and dead.error.code == case.code and dead.deliveries == 1
    with pytest.raises(NotFoundError):
        await h.js.get_last_msg(WORK_STREAM, VALIDATE_SUBJECT)


async def test_provider_outage_is_retried_by_redelivery_then_fails(harness: MakeHarness) -> None:
    h = await harness()
    blob_url = await h.upload(image_bytes())

    _, live = await h.submit(blob_url, model="fake-500")
    updates = await live.until(lambda u: u.type is UpdateType.ERROR)

    assert h.fake.app.by_model["fake-500"] == 2  # max_deliver 2, no SDK retries
    assert [u.seq for u in updates] == list(range(1, len(updates) + 1))
    assert [u.type for u in updates].count(UpdateType.STAGE_START) == 2  # not repeated
    error = updates[-1].error
    assert error is not None and error.code == "provider_unavailable"
    assert "2 attempts" in error.message


async def test_a_repeated_run_adds_nothing(harness: MakeHarness) -> None:
    # What a redelivery after a crash does: the whole work again, on the real progress stream.
    h = await harness()
    blob_url = await h.upload(image_bytes())
    cmd = ExtractInvoice(task_id=f"task_{uuid.uuid4().hex}", filename="doc", blob_url=blob_url)

    for _ in range(2):
        log = progress_log(h.js, cmd.task_id)
        await advance(EXTRACT, h.worker.pipeline.handle, cmd, log, h.worker.publish)

    history = [u for _, u in await read_history(h.js, cmd.task_id)]
    assert [u.seq for u in history] == [1, 2, 3, 4]
    info = await h.js.stream_info(WORK_STREAM, subjects_filter=VALIDATE_SUBJECT)
    assert info.state.subjects == {VALIDATE_SUBJECT: 1}  # the second publish was a duplicate
