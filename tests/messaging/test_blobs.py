"""Content-addressed blobs in the JetStream object store (real nats-server)."""

from __future__ import annotations

import hashlib
import os

import pytest
from nats.js import JetStreamContext
from nats.js.api import ObjectMeta
from nats.js.object_store import ObjectStore

from services.messaging.blobs import BlobCorruptError, NatsObjectBlobStore, is_blob_id
from services.messaging.jetstream import blobs_bucket


@pytest.fixture
async def store(js: JetStreamContext) -> ObjectStore:
    return await blobs_bucket(js)


@pytest.fixture
def blobs(js: JetStreamContext, store: ObjectStore) -> NatsObjectBlobStore:
    return NatsObjectBlobStore(js, store)


async def test_round_trip_keeps_bytes_and_content_type(blobs: NatsObjectBlobStore) -> None:
    data = b"%PDF-1.4 " + os.urandom(64)

    stored = await blobs.put(data, "application/pdf")
    blob = await blobs.get(stored.blob_id)

    assert stored.blob_id == hashlib.sha256(data).hexdigest()
    assert stored.created and stored.size == len(data)
    assert blob is not None
    assert blob.data == data
    assert blob.content_type == "application/pdf"


async def test_a_blob_of_many_chunks_round_trips(blobs: NatsObjectBlobStore) -> None:
    data = os.urandom(3 * 128 * 1024 + 17)  # four object-store chunks

    stored = await blobs.put(data, "image/png")
    blob = await blobs.get(stored.blob_id)

    assert blob is not None and blob.data == data


async def test_the_same_bytes_are_stored_once(
    blobs: NatsObjectBlobStore, store: ObjectStore
) -> None:
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
    first = await blobs.put(data, "image/png")
    nuid = (await store.get_info(first.blob_id)).nuid

    again = await blobs.put(data, "image/png")

    assert again.blob_id == first.blob_id
    assert not again.created
    # Not written again: the object still has the chunks of the first put.
    assert (await store.get_info(first.blob_id)).nuid == nuid


async def test_unknown_and_malformed_ids_are_none(blobs: NatsObjectBlobStore) -> None:
    assert await blobs.get("0" * 64) is None
    assert await blobs.get("../etc/passwd") is None
    assert await blobs.get("A" * 64) is None


async def test_bytes_that_do_not_match_their_key_are_refused(
    blobs: NatsObjectBlobStore, store: ObjectStore
) -> None:
    key = hashlib.sha256(os.urandom(16)).hexdigest()
    await store.put(key, b"something else", meta=ObjectMeta(name=key))

    with pytest.raises(BlobCorruptError):
        await blobs.get(key)


def test_blob_ids_are_sha256_hex() -> None:
    assert is_blob_id("a" * 64)
    assert not is_blob_id("a" * 63)
    assert not is_blob_id("g" * 64)
