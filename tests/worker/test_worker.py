"""The worker runtime on a real nats-server: outages hold work without spending deliveries,
a drain hands back what it cannot finish, and the health endpoints say so."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from contracts import ExtractInvoice, Stage, TaskResult, TaskUpdated, UpdateType
from contracts.names import EXTRACT_CONSUMER, WORK_STREAM
from services.messaging.envelopes import command_envelope
from services.messaging.progress_stream import read_history
from services.worker.errors import DependencyUnavailableError
from services.worker.handler import StageReport
from services.worker.settings import WorkerSettings
from services.worker.worker import Worker
from tests.worker.test_runner import EXTRACT_AND_END, RESULT

TIMEOUT = 20.0
Handler = Callable[[ExtractInvoice, StageReport], Awaitable[TaskResult]]


def command() -> ExtractInvoice:
    return ExtractInvoice(
        task_id=f"task_{uuid.uuid4().hex}", filename="a.png", blob_url="http://x/blobs/1"
    )


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = TIMEOUT) -> None:
    async def poll() -> None:
        while not await condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def history(js: JetStreamContext, task_id: str) -> list[TaskUpdated]:
    return [u for _, u in await read_history(js, task_id)]


async def ended(js: JetStreamContext, task_id: str) -> list[TaskUpdated]:
    async def done() -> bool:
        updates = await history(js, task_id)
        return bool(updates) and updates[-1].type in (UpdateType.COMPLETE, UpdateType.ERROR)

    await until(done)
    return await history(js, task_id)


@pytest.fixture
async def start_worker(
    private_nats_url: str,
) -> AsyncIterator[Callable[..., Awaitable[Worker]]]:
    started: list[Worker] = []

    async def start(handler: Handler, **settings: float) -> Worker:
        values: dict[str, Any] = {"nats_url": private_nats_url, "max_deliver": 3, **settings}
        worker = Worker(
            WorkerSettings.model_validate({**values, "metrics_port": 0}),
            EXTRACT_AND_END,
            dependencies=("postgres",),
        )
        worker.handle(handler)
        await worker.start()
        started.append(worker)
        return worker

    yield start
    await asyncio.gather(*(worker.stop() for worker in started))


async def test_an_outage_holds_the_work_without_spending_a_delivery(
    start_worker: Callable[..., Awaitable[Worker]],
) -> None:
    database_up = asyncio.Event()
    attempts = 0

    async def save(cmd: ExtractInvoice, report: StageReport) -> TaskResult:
        nonlocal attempts
        attempts += 1
        async with report.stage(Stage.FETCH, "Fetching"):
            if not database_up.is_set():
                raise DependencyUnavailableError("postgres", "the database does not answer")
        return RESULT

    worker = await start_worker(save)
    cmd = command()
    await worker.publish(command_envelope(cmd))

    async def is_down() -> bool:
        return not worker.health.is_up("postgres")

    await until(is_down)
    async with httpx.AsyncClient() as http:
        readiness = await http.get(f"http://127.0.0.1:{worker.metrics_port}/readyz")
        assert readiness.status_code == 503
        assert readiness.json()["down"] == {"postgres": "the database does not answer"}
        database_up.set()
        updates = await ended(worker.js, cmd.task_id)
        assert (await http.get(f"http://127.0.0.1:{worker.metrics_port}/readyz")).status_code == 200

    assert [u.type for u in updates] == [
        UpdateType.STAGE_START,
        UpdateType.STAGE_COMPLETE,
        UpdateType.COMPLETE,
    ]
    assert attempts >= 2
    info = await worker.js.consumer_info(WORK_STREAM, EXTRACT_CONSUMER)
    assert info.num_redelivered == 0  # waited in place: no delivery was spent on the outage


async def test_a_drain_hands_back_the_work_it_cannot_finish(
    start_worker: Callable[..., Awaitable[Worker]],
) -> None:
    started = asyncio.Event()

    async def stuck(cmd: ExtractInvoice, report: StageReport) -> TaskResult:
        started.set()
        await asyncio.Event().wait()  # never finishes on this replica
        return RESULT

    async def quick(cmd: ExtractInvoice, report: StageReport) -> TaskResult:
        return RESULT

    # ack_wait 30 s: a message the stopping replica kept would reach the other only then.
    stopping = await start_worker(stuck, drain_seconds=0.2, ack_wait_seconds=30)
    cmd = command()
    await stopping.publish(command_envelope(cmd))
    await asyncio.wait_for(started.wait(), TIMEOUT)
    other = await start_worker(quick)

    await stopping.drain()

    updates = await asyncio.wait_for(ended(other.js, cmd.task_id), 10)
    assert [u.type for u in updates] == [UpdateType.COMPLETE]


async def test_a_draining_worker_takes_no_new_work(
    start_worker: Callable[..., Awaitable[Worker]],
) -> None:
    seen: list[str] = []

    async def record(cmd: ExtractInvoice, report: StageReport) -> TaskResult:
        seen.append(cmd.task_id)
        return RESULT

    draining = await start_worker(record)
    await draining.drain()
    other = await start_worker(record)
    cmd = command()
    await other.publish(command_envelope(cmd))

    updates = await ended(other.js, cmd.task_id)

    assert [u.type for u in updates] == [UpdateType.COMPLETE] and seen == [cmd.task_id]
    assert not draining.health.ready


async def test_health_endpoints(start_worker: Callable[..., Awaitable[Worker]]) -> None:
    async def quick(cmd: ExtractInvoice, report: StageReport) -> TaskResult:
        return RESULT

    worker = await start_worker(quick)
    base = f"http://127.0.0.1:{worker.metrics_port}"
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{base}/healthz")).json() == {"alive": True}
        ready = await http.get(f"{base}/readyz")
        metrics = await http.get(f"{base}/metrics")
        missing = await http.get(f"{base}/nothing")
        posted = await http.post(f"{base}/readyz")

    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'invoiceflow_messages_in_flight{consumer="extractor"}' in metrics.text
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert posted.status_code == 405 and posted.json()["error"]["code"] == "method_not_allowed"


async def test_held_counts_the_messages_the_replica_is_working_on(
    start_worker: Callable[..., Awaitable[Worker]],
) -> None:
    release = asyncio.Event()
    seen: list[int] = []
    worker: Worker | None = None

    async def hold(cmd: ExtractInvoice, report: StageReport) -> TaskResult:
        assert worker is not None
        seen.append(worker.held())
        await release.wait()
        return RESULT

    worker = await start_worker(hold)
    assert worker.held() == 0
    commands = [command() for _ in range(3)]
    for cmd in commands:
        await worker.publish(command_envelope(cmd))

    async def all_held() -> bool:
        return len(seen) == 3

    await until(all_held)
    assert worker.held() == 3
    release.set()
    for cmd in commands:
        await ended(worker.js, cmd.task_id)

    async def none_held() -> bool:
        assert worker is not None
        return worker.held() == 0

    await until(none_held)
