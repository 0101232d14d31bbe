"""On a three-node cluster, INVOICEFLOW_STREAM_REPLICAS=3 gives R3 streams, buckets and object
store, existing R1 ones become R3 when declared again, and services connect to a server list."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext
from nats.js.errors import APIError

from contracts import names
from contracts.pipeline import EXTRACT
from deploy.embedded import EmbeddedNatsCluster, free_port
from services.gateway.app import start, stop
from services.messaging.jetstream import (
    blobs_bucket,
    bucket_stream,
    declare_pipeline_streams,
    declare_work_consumer,
    extractions_bucket,
    object_store_stream,
    tasks_bucket,
)
from services.validator.app import build_worker
from services.validator.settings import ValidatorSettings
from tests.cluster.conftest import wait_replicated
from tests.gateway.conftest import make_settings

PIPELINE_STREAMS = (
    names.WORK_STREAM,
    names.PROGRESS_STREAM,
    names.DEAD_LETTER_STREAM,
    names.ADVISORY_STREAM,
)
STORES = (
    bucket_stream(names.TASKS_BUCKET),
    bucket_stream(names.EXTRACTIONS_BUCKET),
    object_store_stream(names.BLOBS_BUCKET),
)


async def declare_everything(js: JetStreamContext, replicas: int) -> None:
    """What the gateway, the workers and the extractor declare between them."""
    await declare_pipeline_streams(js, 24, replicas)
    await tasks_bucket(js, 24, replicas)
    await extractions_bucket(js, replicas)
    await blobs_bucket(js, replicas)


async def test_three_replicas_give_r3_streams_buckets_and_object_store(
    cluster_js: JetStreamContext,
) -> None:
    await declare_everything(cluster_js, 3)

    for stream in (*PIPELINE_STREAMS, *STORES):
        await wait_replicated(cluster_js, stream, 3)


async def test_r1_streams_and_buckets_become_r3_when_declared_again(
    cluster_js: JetStreamContext,
) -> None:
    await declare_everything(cluster_js, 1)
    await declare_work_consumer(
        cluster_js,
        durable=EXTRACT.consumer,
        subject=EXTRACT.subject,
        ack_wait_seconds=30,
        max_deliver=5,
    )
    for stream in (*PIPELINE_STREAMS, *STORES):
        assert (await cluster_js.stream_info(stream)).config.num_replicas == 1
    await cluster_js.publish(names.progress_subject("kept"), b"{}")
    kv = await tasks_bucket(cluster_js, 24, 1)
    await kv.put("kept", b"record")

    await declare_everything(cluster_js, 3)

    for stream in (*PIPELINE_STREAMS, *STORES):
        await wait_replicated(cluster_js, stream, 3)
    # A consumer left at "as many as its stream" follows, once the new peers caught up (~10 s).
    await wait_replicated(cluster_js, names.WORK_STREAM, 3, consumer=EXTRACT.consumer, timeout=40)
    # Scaling keeps what was stored.
    assert (await cluster_js.stream_info(names.PROGRESS_STREAM)).state.messages == 1
    assert (await (await tasks_bucket(cluster_js, 24, 3)).get("kept")).value == b"record"


async def test_the_gateway_connects_to_a_list_and_declares_r3(
    cluster: EmbeddedNatsCluster, cluster_js: JetStreamContext
) -> None:
    # The first server of the list is down: the client goes on to the next.
    url = f"nats://127.0.0.1:{free_port()}, {cluster.url}"
    gateway = await start(make_settings(url, stream_replicas=3))
    try:
        assert gateway.nc.is_connected
        assert gateway.nc.connected_url is not None
        assert gateway.nc.connected_url.port in {node.port for node in cluster.nodes}
        await wait_replicated(cluster_js, names.PROGRESS_STREAM, 3)
        await wait_replicated(cluster_js, object_store_stream(names.BLOBS_BUCKET), 3)
    finally:
        await stop(gateway)


async def test_a_worker_connects_to_a_list_and_declares_r3(
    cluster: EmbeddedNatsCluster, cluster_js: JetStreamContext
) -> None:
    worker = build_worker(ValidatorSettings(nats_url=cluster.url, stream_replicas=3))
    await worker.start()
    try:
        assert worker.nc.is_connected
        await wait_replicated(cluster_js, names.WORK_STREAM, 3)
        await wait_replicated(cluster_js, names.WORK_STREAM, 3, consumer=names.VALIDATE_CONSUMER)
    finally:
        await worker.stop()


async def test_more_replicas_than_servers_is_refused_at_start(private_nats_url: str) -> None:
    """One server and INVOICEFLOW_STREAM_REPLICAS=3: the gateway refuses to start."""
    with pytest.raises(APIError, match="replicas > 1 not supported"):
        await start(make_settings(private_nats_url, stream_replicas=3))
