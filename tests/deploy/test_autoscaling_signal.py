"""The number KEDA's nats-jetstream scaler scales the extractor on, read from a real nats-server's
monitoring port as the scaler reads it (deploy/keda_lag.py): every queued work message counts,
in-flight ones too, and it falls to 0 as replicas sharing the durable drain the queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from contracts.names import WORK_STREAM
from contracts.pipeline import EXTRACT
from deploy.embedded import EmbeddedNats, free_port
from deploy.keda_lag import jsz_url, main, read_lag
from services.extractor.settings import ExtractorSettings
from services.messaging import jetstream
from tests.support.waiting import wait_until

QUEUED = 12


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    started = EmbeddedNats(tmp_path / "nats", free_port(), monitor_port=free_port()).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def endpoint(server: EmbeddedNats) -> str:
    """As KEDA's `natsServerMonitoringEndpoint`: host:port, no scheme."""
    return f"127.0.0.1:{server.monitor_port}"


@pytest.fixture
async def js(server: EmbeddedNats) -> AsyncIterator[JetStreamContext]:
    client = await nats.connect(server.url)
    js = client.jetstream()
    # What an extractor replica declares at start-up (Worker.start), with its default settings.
    settings = ExtractorSettings(nats_url=server.url)
    await jetstream.declare_pipeline_streams(
        js, settings.progress_retention_hours, settings.stream_replicas
    )
    await jetstream.declare_work_consumer(
        js,
        durable=EXTRACT.consumer,
        subject=EXTRACT.subject,
        ack_wait_seconds=settings.ack_wait_seconds,
        max_deliver=settings.max_deliver,
    )
    try:
        yield js
    finally:
        await client.close()


async def queue_work(js: JetStreamContext, count: int) -> None:
    for index in range(count):
        headers = {"Nats-Msg-Id": f"task_{index:032x}:{EXTRACT.subject}"}
        await js.publish(EXTRACT.subject, b"{}", headers=headers)


def lag(endpoint: str) -> int:
    found = read_lag(endpoint, consumer=EXTRACT.consumer)
    assert found.consumer_found
    return found.lag


async def lag_becomes(endpoint: str, expected: int, timeout: float = 10.0) -> None:
    async def reached() -> bool:
        return await asyncio.to_thread(lambda: lag(endpoint) == expected)

    try:
        await wait_until(reached, timeout=timeout, interval=0.05)
    except TimeoutError:
        assert lag(endpoint) == expected  # says what it was instead
        raise


def test_the_url_is_the_scalers() -> None:
    assert jsz_url("nats:8222") == "http://nats:8222/jsz?acc=$G&consumers=true&config=true"


async def test_lag_counts_queued_and_in_flight_work_and_falls_to_zero_as_replicas_drain(
    js: JetStreamContext, endpoint: str
) -> None:
    assert lag(endpoint) == 0
    await queue_work(js, QUEUED)
    # The monitoring endpoint catches up with the stream a moment after the publishes' acks.
    await lag_becomes(endpoint, QUEUED)

    # Two replicas share the durable, as the extractor's Deployment does.
    replicas = [
        await js.pull_subscribe_bind(durable=EXTRACT.consumer, stream=WORK_STREAM) for _ in range(2)
    ]
    held = await replicas[0].fetch(3, timeout=5)
    assert len(held) == 3
    await lag_becomes(endpoint, QUEUED)  # messages being worked on still count

    seen: list[str] = [msg.headers["Nats-Msg-Id"] for msg in held if msg.headers]
    for msg in held:
        await msg.ack_sync()

    async def drain(replica: JetStreamContext.PullSubscription) -> None:
        while len(seen) < QUEUED:
            try:
                batch = await replica.fetch(2, timeout=0.5)
            except NatsTimeoutError:
                continue  # the other replica took the last ones
            for msg in batch:
                seen.append(msg.headers["Nats-Msg-Id"] if msg.headers else "")
                await msg.ack_sync()

    async with asyncio.timeout(20):
        await asyncio.gather(*(drain(replica) for replica in replicas))

    assert len(seen) == len(set(seen)) == QUEUED
    await lag_becomes(endpoint, 0)


async def test_an_unknown_consumer_falls_back_to_the_streams_last_sequence(
    js: JetStreamContext, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """What makes KEDA over-scale when the ScaledObject names a consumer that does not exist."""
    await queue_work(js, 5)
    await lag_becomes(endpoint, 5)  # the monitoring endpoint has caught up with the stream

    found = read_lag(endpoint, consumer="extract")
    assert not found.consumer_found and found.lag == 5

    assert main([endpoint, "--consumer", EXTRACT.consumer, "--consumer", "extract"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{EXTRACT.consumer}\t5"
    assert out[1].startswith("extract\t5\tconsumer not found")
