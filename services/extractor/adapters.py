"""The extractor's adapters to NATS: documents read from (and kept in) the JetStream object store,
and the extraction cache in a JetStream key-value bucket. The stage logic sees only the callables
and protocols these implement (`fetch.ReadBlob`, `fetch.KeepBlob`, `cache.ExtractionCache`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from contracts import ErrorCode, Extraction
from services.extractor.cache import cache_key
from services.messaging.blobs import BlobCorruptError, BlobTooLargeError, NatsObjectBlobStore
from services.messaging.jetstream import blobs_bucket
from services.worker.errors import DependencyUnavailableError, PermanentError

log = logging.getLogger(__name__)


class BlobAccess:
    """`read_blob` and `keep_blob` for the stage logic: the JetStream object store of uploads."""

    def __init__(self, jetstream: Callable[[], JetStreamContext], replicas: int = 1) -> None:
        # Called on first use: the worker's connection does not exist when this is built.
        self._jetstream = jetstream
        self._replicas = replicas  # should the store not exist yet and be created here
        self._store: NatsObjectBlobStore | None = None

    async def _opened(self) -> NatsObjectBlobStore:
        if self._store is None:
            js = self._jetstream()
            self._store = NatsObjectBlobStore(js, await blobs_bucket(js, self._replicas))
        return self._store

    async def read(self, blob_id: str, max_bytes: int) -> bytes | None:
        try:
            blob = await (await self._opened()).get(blob_id, max_bytes)
        except BlobTooLargeError as exc:
            raise PermanentError(
                ErrorCode.FILE_TOO_LARGE, f"the document is over the limit of {max_bytes} bytes"
            ) from exc
        except BlobCorruptError as exc:
            raise PermanentError(
                ErrorCode.FETCH_FAILED, "the stored file does not match its checksum"
            ) from exc
        except NotFoundError:
            return None  # deleted while it was read
        except (NatsError, TimeoutError) as exc:
            # The object store is NATS: its outage delays the task, it does not fail it.
            raise DependencyUnavailableError("nats", "the object store does not answer") from exc
        return blob.data if blob is not None else None

    async def keep(self, data: bytes, content_type: str) -> None:
        try:
            await (await self._opened()).put(data, content_type)
        except (NatsError, TimeoutError) as exc:
            # Not kept, the saved invoice would have no document: wait for NATS instead.
            raise DependencyUnavailableError("nats", "the object store does not answer") from exc


class KeyValueCache:
    """Entries in the JetStream key-value bucket `invoiceflow_extractions`, shared by replicas.

    The bucket is opened on first use: the worker's NATS connection does not exist before.
    """

    def __init__(self, open_bucket: Callable[[], Awaitable[KeyValue]]) -> None:
        self._open_bucket = open_bucket
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self._open_bucket()
        return self._kv

    async def get(self, sha256: str, provider: str, model: str) -> Extraction | None:
        key = cache_key(sha256, provider, model)
        try:
            entry = await (await self._bucket()).get(key)
        except KeyNotFoundError:
            return None
        except Exception as exc:  # a cache failure is a miss, never a task failure
            log.warning("extraction cache unavailable, extracting again: %s", exc)
            return None
        if not entry.value:
            return None
        try:
            return Extraction.model_validate_json(entry.value)
        except ValidationError:
            # Written by an incompatible version: extract again, and overwrite it then.
            return None

    async def put(self, sha256: str, provider: str, model: str, extraction: Extraction) -> None:
        try:
            kv = await self._bucket()
            await kv.put(cache_key(sha256, provider, model), extraction.model_dump_json().encode())
        except Exception as exc:  # the task has its extraction; only reuse is lost
            log.warning("could not cache the extraction of %s: %s", sha256, exc)
