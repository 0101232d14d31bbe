"""The whole stack on a three-node JetStream cluster with R3 streams: losing the node that leads
the progress stream mid-run loses and duplicates nothing; after every node was stopped and
started again, or when the stack started before the cluster had a quorum, it carries on by
itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from nats.js import JetStreamContext

from contracts.names import PROGRESS_STREAM, WORK_STREAM
from deploy.embedded import EmbeddedNatsCluster
from services.messaging.outages import WAITING_MARK
from testkit.contract_client import TERMINAL, Event, Socket, assert_contiguous, trigger, upload
from testkit.stack import Stack
from tests.cluster.conftest import jetstream_on
from tests.e2e.conftest import fake_model, fresh_database
from tests.e2e.documents import invoice_png
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

TASKS = 20


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    # Slow enough that 20 tasks are still in flight when the first completes (16 at a time).
    with fake_model(latency=1.5) as url:
        yield url


async def stack_on(
    cluster: EmbeddedNatsCluster, database_url: str, model_url: str, tmp_path: Path
) -> Stack:
    """The four services on `cluster` with R3 streams, not started yet."""
    return Stack(
        nats_url=cluster.url,
        database_url=await fresh_database(database_url),
        log_dir=tmp_path / "logs",
        env={
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": model_url,
            "INVOICEFLOW_STREAM_REPLICAS": "3",
            # An ack lost with its node comes back in seconds, not the default 30.
            "INVOICEFLOW_ACK_WAIT_SECONDS": "3",
            "INVOICEFLOW_METRICS_PORT": "0",
        },
    )


@pytest.fixture
async def stack(
    own_cluster: EmbeddedNatsCluster, database_url: str, model_url: str, tmp_path: Path
) -> AsyncIterator[Stack]:
    started = (await stack_on(own_cluster, database_url, model_url, tmp_path)).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def js(own_cluster: EmbeddedNatsCluster) -> AsyncIterator[JetStreamContext]:
    async with jetstream_on(own_cluster) as js:
        yield js


async def submit(http: httpx.AsyncClient, socket: Socket, count: int, tag: str) -> list[Event]:
    tasks = []
    for index in range(count):
        # Distinct files: no extraction-cache hits, no duplicates of one another.
        name = f"{tag}-{index}.png"
        blob = await upload(http, name, invoice_png(name), "image/png")
        task = await trigger(http, blob["blob_url"], name)
        await socket.join(task["task_id"], task["token"])
        tasks.append(task)
    return tasks


async def follow(socket: Socket, task_id: str, completed: asyncio.Event) -> list[Event]:
    """Every update of one task on the socket, up to its last; `completed` set on a complete."""
    queue = socket.queue(task_id)
    updates: list[Event] = []
    while not updates or updates[-1]["type"] not in TERMINAL:
        updates.append((await queue.get())["data"])
        if updates[-1]["type"] == "complete":
            completed.set()
    return updates


async def rows_per_task(database_url: str) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT task_id, count(*) AS n FROM invoices GROUP BY 1")
    finally:
        await connection.close()
    return {str(row["task_id"]): int(row["n"]) for row in rows}


def assert_completed_once(updates: dict[str, list[Event]]) -> None:
    for task_id, task_updates in updates.items():
        assert_contiguous(task_updates)
        assert [u["type"] for u in task_updates].count("complete") == 1, task_id
        assert task_updates[-1]["type"] == "complete", task_updates[-1]


async def run_to_completion(
    stack: Stack, socket: Socket, count: int, tag: str, timeout: float = 60
) -> dict[str, list[Event]]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        tasks = await submit(http, socket, count, tag)
    updates = await asyncio.wait_for(
        asyncio.gather(*(socket.until_done(t["task_id"], timeout) for t in tasks)), timeout
    )
    return {t["task_id"]: u for t, u in zip(tasks, updates, strict=True)}


async def test_losing_the_progress_leader_mid_run_loses_and_duplicates_nothing(
    stack: Stack, own_cluster: EmbeddedNatsCluster, js: JetStreamContext
) -> None:
    for stream in (WORK_STREAM, PROGRESS_STREAM):
        assert (await js.stream_info(stream)).config.num_replicas == 3
    socket = await Socket.connect(stack.ws_url)
    try:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
            tasks = await submit(http, socket, TASKS, "failover")
        completed = asyncio.Event()
        followers = {
            t["task_id"]: asyncio.create_task(follow(socket, t["task_id"], completed))
            for t in tasks
        }
        await asyncio.wait_for(completed.wait(), 60)

        # Every update of every task is appended on the progress stream's leader: lose it.
        info = await js.stream_info(PROGRESS_STREAM)
        assert info.cluster is not None and info.cluster.leader
        own_cluster.node(info.cluster.leader).kill()
        assert not all(f.done() for f in followers.values()), "the run ended before the kill"

        async with asyncio.timeout(120):
            updates = {task_id: await f for task_id, f in followers.items()}
    finally:
        await socket.close()

    assert_completed_once(updates)
    assert await rows_per_task(stack.database_url) == dict.fromkeys(updates, 1)
    after = await js.stream_info(PROGRESS_STREAM)
    assert after.cluster is not None and after.cluster.leader != info.cluster.leader


async def wait_healthy(stack: Stack, timeout: float = 60) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=5) as http:

        async def healthy() -> bool:
            try:
                return (await http.get("/api/health")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until(healthy, timeout=timeout, interval=0.2)


async def test_the_stack_recovers_after_every_node_restarted(
    stack: Stack, own_cluster: EmbeddedNatsCluster
) -> None:
    socket = await Socket.connect(stack.ws_url)
    try:
        before = await run_to_completion(stack, socket, 2, "before")

        own_cluster.stop()
        own_cluster.start()
        await wait_healthy(stack)

        after = await run_to_completion(stack, socket, 3, "after", timeout=90)
    finally:
        await socket.close()

    assert_completed_once({**before, **after})
    assert await rows_per_task(stack.database_url) == dict.fromkeys({**before, **after}, 1)
    # What was stored before the restart is still there.
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        for task_id in before:
            status: dict[str, Any] = (await http.get(f"/api/invoices/status/{task_id}")).json()
            assert status["status"] == "completed", status


async def test_a_stack_started_before_the_cluster_has_a_quorum_waits_for_it(
    database_url: str, model_url: str, tmp_path: Path
) -> None:
    """One node of three up: JetStream has no meta leader and answers nothing. Every service
    waits (as pods started before the cluster settles would), then carries on by itself."""
    cluster = EmbeddedNatsCluster(tmp_path / "cluster")
    first, *others = cluster.nodes
    first.start()
    stack = await stack_on(cluster, database_url, model_url, tmp_path)
    try:
        for name in stack.replica_names():
            stack.start_service(name)

        async def all_waiting() -> bool:
            for name, proc in stack.procs.items():
                assert proc.poll() is None, f"{name} exited:\n{stack.tail(name)}"
            return all(WAITING_MARK in stack.tail(name, 400) for name in stack.procs)

        await wait_until(all_waiting, timeout=60, interval=0.2)
        async with httpx.AsyncClient(timeout=5) as http:
            for name in stack.replica_names():
                if name != "gateway":  # which listens once it has declared
                    readiness = await http.get(
                        f"http://127.0.0.1:{stack.replica_port(name)}/readyz"
                    )
                    assert readiness.status_code == 503, name
                    assert readiness.json()["starting"] is True, readiness.json()
        for node in others:
            node.start()
        await asyncio.to_thread(stack.wait_ready, None, 90)
        socket = await Socket.connect(stack.ws_url)
        try:
            updates = await run_to_completion(stack, socket, 2, "quorum", timeout=90)
        finally:
            await socket.close()
        assert_completed_once(updates)
        assert await rows_per_task(stack.database_url) == dict.fromkeys(updates, 1)
    finally:
        stack.stop()
        cluster.stop()
