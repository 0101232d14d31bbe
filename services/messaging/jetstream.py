"""Idempotent declaration of the streams, consumers and buckets the pipeline runs on.

Every replica of every service declares what it uses at start-up; declaring is create-or-update,
so the configuration in code is the configuration on the server (nats-py alone would keep an
existing consumer's old `ack_wait`/`max_deliver`). That includes the number of replicas
(`INVOICEFLOW_STREAM_REPLICAS`) of every stream, bucket and object store: an existing one is
updated to it.
"""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from contracts import names, streams
from contracts.streams import StreamSpec

log = logging.getLogger(__name__)

_STREAM_IN_USE = 10058


def bucket_stream(bucket: str) -> str:
    """The stream a KV bucket is kept in (JetStream's naming, the same in every client)."""
    return f"KV_{bucket}"


def object_store_stream(bucket: str) -> str:
    return f"OBJ_{bucket}"


def stream_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.WORK_QUEUE
        if spec.retention == "workqueue"
        else RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=spec.max_age_seconds,
        duplicate_window=spec.duplicate_window_seconds,
        max_msgs_per_subject=spec.max_msgs_per_subject,
        allow_direct=True,
        num_replicas=replicas,
    )


async def declare_stream(js: JetStreamContext, spec: StreamSpec, replicas: int = 1) -> None:
    config = stream_config(spec, replicas)
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        if exc.err_code != _STREAM_IN_USE:
            raise
        await js.update_stream(config)


async def declare_pipeline_streams(
    js: JetStreamContext, progress_retention_hours: float, replicas: int = 1
) -> None:
    for spec in (
        streams.WORK,
        streams.progress_stream(progress_retention_hours * 3600),
        streams.DEAD_LETTER,
        streams.ADVISORIES,
    ):
        await declare_stream(js, spec, replicas)


async def declare_work_consumer(
    js: JetStreamContext,
    *,
    durable: str,
    subject: str,
    ack_wait_seconds: float,
    max_deliver: int,
    max_ack_pending: int = 1000,
) -> None:
    """One durable pull consumer per stage, shared by all replicas of that stage."""
    await js.add_consumer(
        names.WORK_STREAM,
        ConsumerConfig(
            durable_name=durable,
            filter_subject=subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait_seconds,
            max_deliver=max_deliver,
            max_ack_pending=max_ack_pending,
        ),
    )


async def declare_advisory_consumer(js: JetStreamContext, work_consumer: str) -> str:
    """A durable consumer on the max-deliveries advisories of one work consumer."""
    durable = names.exhausted_consumer(work_consumer)
    await js.add_consumer(
        names.ADVISORY_STREAM,
        ConsumerConfig(
            durable_name=durable,
            filter_subject=names.max_deliveries_advisory_subject(work_consumer),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            max_deliver=20,
        ),
    )
    return durable


async def ensure_replicas(js: JetStreamContext, stream: str, replicas: int) -> None:
    """Scale an existing stream (a bucket's or object store's too) to `replicas`.

    nats-py opens a bucket without looking at its config, so a bucket created R1 before the
    cluster existed would stay R1; JetStream changes `num_replicas` on an update.
    """
    config = (await js.stream_info(stream)).config
    if config.num_replicas == replicas:
        return
    log.info("stream %s: %s replicas -> %s", stream, config.num_replicas, replicas)
    config.num_replicas = replicas
    await js.update_stream(config)


async def _key_value(
    js: JetStreamContext, bucket: str, ttl_seconds: float, replicas: int
) -> KeyValue:
    """Open the bucket, creating it (latest value only, entries expire) if it does not exist."""
    try:
        kv = await js.key_value(bucket)
    except BucketNotFoundError:
        pass
    else:
        await ensure_replicas(js, bucket_stream(bucket), replicas)
        return kv
    try:
        return await js.create_key_value(
            KeyValueConfig(bucket=bucket, history=1, ttl=ttl_seconds, replicas=replicas)
        )
    except BadRequestError:
        # Another replica created it first.
        return await js.key_value(bucket)


async def tasks_bucket(js: JetStreamContext, ttl_hours: float, replicas: int = 1) -> KeyValue:
    return await _key_value(js, names.TASKS_BUCKET, ttl_hours * 3600, replicas)


# Extractions are worth keeping for re-uploads, not forever: the model or the parser changes.
EXTRACTIONS_TTL_SECONDS = 30 * 24 * 3600


async def extractions_bucket(js: JetStreamContext, replicas: int = 1) -> KeyValue:
    return await _key_value(js, names.EXTRACTIONS_BUCKET, EXTRACTIONS_TTL_SECONDS, replicas)


async def blobs_bucket(js: JetStreamContext, replicas: int = 1) -> ObjectStore:
    try:
        store = await js.object_store(names.BLOBS_BUCKET)
    except (BucketNotFoundError, NotFoundError):
        pass
    else:
        await ensure_replicas(js, object_store_stream(names.BLOBS_BUCKET), replicas)
        return store
    try:
        return await js.create_object_store(
            names.BLOBS_BUCKET,
            config=ObjectStoreConfig(storage=StorageType.FILE, replicas=replicas),
        )
    except BadRequestError:
        return await js.object_store(names.BLOBS_BUCKET)
