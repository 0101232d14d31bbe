"""The stage runner and the exhausted-delivery handler on a real nats-server.

The handler under test reports one stage and then ends the task, on a step that may (the
extract step's subject and consumer, told it may complete): what a real handler does, minus
its work, which `behaviour(attempt)` stands in for."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import nats
import pytest
from nats.js import JetStreamContext

from contracts import (
    ExtractInvoice,
    Invoice,
    ProgressMark,
    Stage,
    StageSpan,
    Step,
    TaskDeadLettered,
    TaskResult,
    TaskUpdated,
    UpdateType,
    Usage,
    ValidationReport,
)
from contracts.names import (
    DEAD_LETTER_STREAM,
    EXTRACT_CONSUMER,
    EXTRACT_SUBJECT,
    WORK_STREAM,
    dead_letter_subject,
)
from contracts.pipeline import COMPLETE
from services.messaging.envelopes import command_envelope
from services.messaging.progress_stream import read_history
from services.worker.errors import PermanentError, TransientError
from services.worker.handler import StageReport
from services.worker.settings import WorkerSettings
from services.worker.worker import Worker

Behaviour = Callable[[int], Awaitable[None]]

EXTRACT_AND_END = Step(
    name="extract",
    subject=EXTRACT_SUBJECT,
    consumer=EXTRACT_CONSUMER,
    command=ExtractInvoice,
    stages=(StageSpan(Stage.FETCH, 5, 10),),
    then=(COMPLETE,),
)
RESULT = TaskResult(
    invoice=Invoice(),
    confidence={},
    validation=ValidationReport(status="valid"),
    saved=False,
    invoice_id=None,
    duplicate_of=None,
    provider="local",
    usage=Usage(),
)


def command() -> ExtractInvoice:
    return ExtractInvoice(
        task_id=f"task_{uuid.uuid4().hex}", filename="a.png", blob_url="http://x/blobs/1"
    )


async def wait_for_terminal(js: JetStreamContext, task_id: str) -> list[TaskUpdated]:
    async def poll() -> list[TaskUpdated]:
        while True:
            updates = [u for _, u in await read_history(js, task_id)]
            if updates and updates[-1].type in (UpdateType.ERROR, UpdateType.COMPLETE):
                return updates
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout=20)


@pytest.fixture
async def worker_with(
    private_nats_url: str,
) -> AsyncIterator[Callable[[Behaviour], Awaitable[Worker]]]:
    """Start a worker on the extract stage whose work runs `behaviour(attempt)`."""
    started: list[Worker] = []

    async def start(behaviour: Behaviour) -> Worker:
        settings = WorkerSettings(
            nats_url=private_nats_url,
            ack_wait_seconds=1.0,
            max_deliver=3,
            retry_backoff_seconds=(0.05,),
        )
        worker = Worker(settings, EXTRACT_AND_END)
        attempts = 0

        @worker.handle
        async def handle(cmd: ExtractInvoice, report: StageReport) -> TaskResult:
            nonlocal attempts
            attempts += 1
            async with report.stage(Stage.FETCH, "Fetching"):
                await behaviour(attempts)
            return RESULT

        await worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        await worker.stop()


async def test_transient_failures_are_retried_then_succeed(
    worker_with: Callable[[Behaviour], Awaitable[Worker]],
) -> None:
    async def flaky(attempt: int) -> None:
        if attempt < 3:
            raise TransientError("provider_unavailable", "try later")

    worker = await worker_with(flaky)
    cmd = command()
    await worker.publish(command_envelope(cmd))

    updates = await wait_for_terminal(worker.js, cmd.task_id)
    assert [u.type for u in updates] == [
        UpdateType.STAGE_START,
        UpdateType.STAGE_COMPLETE,
        UpdateType.COMPLETE,
    ]
    assert [u.seq for u in updates] == [1, 2, 3]


async def test_retries_run_out_into_one_error_and_a_dead_letter(
    worker_with: Callable[[Behaviour], Awaitable[Worker]],
) -> None:
    async def broken(attempt: int) -> None:
        raise TransientError("provider_unavailable", f"down on attempt {attempt}")

    worker = await worker_with(broken)
    cmd = command()
    await worker.publish(command_envelope(cmd))

    updates = await wait_for_terminal(worker.js, cmd.task_id)
    assert [u.type for u in updates] == [UpdateType.STAGE_START, UpdateType.ERROR]
    error = updates[-1].error
    assert error is not None and error.code == "provider_unavailable"
    assert "3 attempts" in error.message
    letter = await worker.js.get_last_msg(DEAD_LETTER_STREAM, dead_letter_subject("extractor"))
    assert letter.data is not None
    dead = TaskDeadLettered.model_validate_json(letter.data)
    assert dead.task_id == cmd.task_id and dead.deliveries == 3
    assert dead.command["blob_url"] == cmd.blob_url
    info = await worker.js.stream_info(WORK_STREAM)
    assert info.state.messages == 0  # terminated, not left in the queue


async def test_permanent_error_fails_on_the_first_delivery(
    worker_with: Callable[[Behaviour], Awaitable[Worker]],
) -> None:
    attempts: list[int] = []

    async def corrupt(attempt: int) -> None:
        attempts.append(attempt)
        raise PermanentError("corrupt_document", "not an image")

    worker = await worker_with(corrupt)
    cmd = command()
    await worker.publish(command_envelope(cmd))

    updates = await wait_for_terminal(worker.js, cmd.task_id)
    assert updates[-1].error is not None and updates[-1].error.code == "corrupt_document"
    assert updates[-1].stage is Stage.FETCH and updates[-1].progress == 5
    assert attempts == [1]


async def test_message_whose_worker_died_on_every_delivery_still_ends(
    private_nats_url: str, worker_with: Callable[[Behaviour], Awaitable[Worker]]
) -> None:
    # The worker is up only for its exhausted-advisory subscriber; a "dying" consumer shares the
    # durable, takes every delivery and never answers, like a process killed mid-task.
    worker = Worker(
        WorkerSettings(nats_url=private_nats_url, ack_wait_seconds=0.3, max_deliver=2),
        EXTRACT_AND_END,
    )
    await worker.start()
    client = await nats.connect(private_nats_url)
    try:
        js = client.jetstream()
        dying = await js.pull_subscribe(
            EXTRACT_SUBJECT, durable=EXTRACT_CONSUMER, stream=WORK_STREAM
        )
        cmd = command()
        await worker.publish(command_envelope(cmd))

        async def take_every_delivery() -> None:
            while True:
                try:
                    await dying.fetch(1, timeout=0.5)
                except TimeoutError:
                    continue

        taker = asyncio.create_task(take_every_delivery())
        try:
            updates = await wait_for_terminal(js, cmd.task_id)
        finally:
            taker.cancel()
            await dying.unsubscribe()
        assert [u.type for u in updates] == [UpdateType.ERROR]
        assert updates[0].error is not None and updates[0].error.code == "retries_exhausted"
        assert (await js.stream_info(WORK_STREAM)).state.messages == 0
    finally:
        await client.drain()
        await worker.stop()


async def test_a_command_marked_as_new_is_redelivered_without_repeats(
    worker_with: Callable[[Behaviour], Awaitable[Worker]],
) -> None:
    async def flaky(attempt: int) -> None:
        if attempt < 2:
            raise TransientError("provider_unavailable", "try later")

    worker = await worker_with(flaky)
    cmd = command().model_copy(update={"progress_mark": ProgressMark()})
    await worker.publish(command_envelope(cmd))

    # The mark says "nothing reported yet"; after the first attempt that is no longer true.
    updates = await wait_for_terminal(worker.js, cmd.task_id)
    assert [(u.seq, u.type) for u in updates] == [
        (1, UpdateType.STAGE_START),
        (2, UpdateType.STAGE_COMPLETE),
        (3, UpdateType.COMPLETE),
    ]
