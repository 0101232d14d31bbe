"""Uploaded files, content-addressed: the key is the sha256 hex of the bytes (= `blob_id`).

`BlobStore` is what the gateway and the extractor need; `NatsObjectBlobStore` keeps blobs in the
JetStream object store `invoiceflow_blobs` (an S3 store could implement the same protocol later).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from nats.js import JetStreamContext
from nats.js.api import ObjectInfo, ObjectMeta
from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from contracts.names import BLOBS_BUCKET

BLOB_ID = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Hash bigger files off the event loop: 10 MB take ~20 ms, other requests should not wait.
_HASH_IN_THREAD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Blob:
    blob_id: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class StoredBlob:
    blob_id: str
    size: int
    content_type: str
    created: bool  # False: the same bytes were stored before


@dataclass(frozen=True)
class OpenBlob:
    """A stored blob about to be read chunk by chunk: nothing but its metadata is in memory.

    `chunks()` fetches one stored chunk at a time, only when the previous one was taken, so a
    reader that stops taking them holds one chunk; it raises `BlobCorruptError` after the last
    chunk when the bytes do not hash to `blob_id`.
    """

    blob_id: str
    size: int
    content_type: str
    chunks: Callable[[], AsyncIterator[bytes]]


class BlobCorruptError(RuntimeError):
    """The stored bytes do not hash to their key."""


class BlobTooLargeError(ValueError):
    """The stored blob is bigger than the reader accepts."""


class BlobStore(Protocol):
    async def put(self, data: bytes, content_type: str) -> StoredBlob: ...

    async def get(self, blob_id: str, max_bytes: int | None = None) -> Blob | None: ...

    async def open(self, blob_id: str) -> OpenBlob | None: ...


async def sha256_hex(data: bytes) -> str:
    if len(data) >= _HASH_IN_THREAD_BYTES:
        return await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
    return hashlib.sha256(data).hexdigest()


def is_blob_id(value: str) -> bool:
    return bool(BLOB_ID.match(value))


class NatsObjectBlobStore:
    def __init__(
        self, js: JetStreamContext, store: ObjectStore, bucket: str = BLOBS_BUCKET
    ) -> None:
        self._js = js
        self._store = store
        self._stream = f"OBJ_{bucket}"
        self._chunks = f"$O.{bucket}.C."

    async def put(self, data: bytes, content_type: str) -> StoredBlob:
        blob_id = await sha256_hex(data)
        if await self._info(blob_id) is not None:
            # Same bytes, same key: nothing to write.
            return StoredBlob(blob_id, len(data), content_type, created=False)
        meta = ObjectMeta(name=blob_id, headers={"Content-Type": [content_type]})
        await self._store.put(blob_id, data, meta=meta)
        return StoredBlob(blob_id, len(data), content_type, created=True)

    async def get(self, blob_id: str, max_bytes: int | None = None) -> Blob | None:
        """The blob, or None when there is none; `BlobTooLargeError` past `max_bytes`."""
        if not is_blob_id(blob_id):
            return None
        info = await self._info(blob_id)
        if info is None:
            return None
        if max_bytes is not None and (info.size or 0) > max_bytes:
            raise BlobTooLargeError(f"blob {blob_id} has {info.size} bytes, over {max_bytes}")
        data = await self._read_chunks(info)
        if await sha256_hex(data) != blob_id:
            raise BlobCorruptError(f"blob {blob_id} does not match its digest")
        return Blob(blob_id, _content_type(info), data)

    async def open(self, blob_id: str) -> OpenBlob | None:
        """The blob's metadata and a chunk iterator, or None when there is none."""
        if not is_blob_id(blob_id):
            return None
        info = await self._info(blob_id)
        if info is None:
            return None

        async def chunks() -> AsyncIterator[bytes]:
            digest = hashlib.sha256()
            async for chunk in self._chunks_of(info):
                digest.update(chunk)
                yield chunk
            if digest.hexdigest() != blob_id:
                raise BlobCorruptError(f"blob {blob_id} does not match its digest")

        return OpenBlob(blob_id, info.size or 0, _content_type(info), chunks)

    async def _info(self, blob_id: str) -> ObjectInfo | None:
        try:
            return await self._store.get_info(blob_id)
        except NotFoundError:
            return None

    async def _read_chunks(self, info: ObjectInfo) -> bytes:
        return b"".join([chunk async for chunk in self._chunks_of(info)])

    async def _chunks_of(self, info: ObjectInfo) -> AsyncIterator[bytes]:
        # Direct gets, one per chunk: nats-py's `ObjectStore.get` would create (and delete) an
        # ordered consumer for every read, far more work for the server per blob served.
        subject = self._chunks + info.nuid
        stream_seq = 0
        for _ in range(info.chunks or 0):
            raw = await self._js.get_msg(
                self._stream, seq=stream_seq + 1, subject=subject, next=True, direct=True
            )
            assert raw.seq is not None
            stream_seq = raw.seq
            yield raw.data or b""


def _content_type(info: ObjectInfo) -> str:
    headers = info.headers or {}
    value = headers.get("Content-Type")
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) and value else DEFAULT_CONTENT_TYPE
