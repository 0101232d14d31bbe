"""A three-node JetStream cluster on loopback (deploy/embedded.py) and how to wait on it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext

from deploy.embedded import EmbeddedNatsCluster
from services.messaging.settings import NatsSettings
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNatsCluster]:
    """Shared by a module's tests that leave every node running."""
    started = EmbeddedNatsCluster(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[EmbeddedNatsCluster]:
    """A cluster of the test's own, for tests that stop or kill nodes."""
    started = EmbeddedNatsCluster(tmp_path / "cluster").start()
    try:
        yield started
    finally:
        started.stop()


@contextlib.asynccontextmanager
async def jetstream_on(cluster: EmbeddedNatsCluster) -> AsyncIterator[JetStreamContext]:
    """A client of the whole server list, as the services connect."""
    client = await nats.connect(NatsSettings(nats_url=cluster.url).nats_servers)
    try:
        yield client.jetstream()
    finally:
        await client.close()


@pytest.fixture
async def cluster_js(cluster: EmbeddedNatsCluster) -> AsyncIterator[JetStreamContext]:
    """JetStream on the shared cluster; every stream is deleted afterwards."""
    async with jetstream_on(cluster) as js:
        yield js
        for info in await js.streams_info():
            await js.delete_stream(info.config.name or "")


async def wait_replicated(
    js: JetStreamContext,
    stream: str,
    replicas: int,
    consumer: str | None = None,
    timeout: float = 20.0,
) -> None:
    """Until `stream` (or its `consumer`) has `replicas` replicas: a leader and every follower
    current."""

    async def replicated() -> bool:
        if consumer is None:
            info = await js.stream_info(stream)
            wanted = info.config.num_replicas
        else:
            info = await js.consumer_info(stream, consumer)
            wanted = info.config.num_replicas or replicas  # 0: as many as its stream
        cluster = info.cluster
        if wanted != replicas or cluster is None or not cluster.leader:
            return False
        followers = cluster.replicas or []
        return len(followers) == replicas - 1 and all(peer.current for peer in followers)

    await wait_until(replicated, timeout=timeout, interval=0.1)
