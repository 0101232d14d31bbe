"""`GET /blobs/{blob_id}`: a stored file, streamed chunk by chunk from the object store.

A reader costs the gateway one chunk and the socket's write buffer, not the whole file: the
next chunk is fetched only once the previous one was taken by the client's socket. A reader
that takes nothing for `blob_send_timeout_seconds` is dropped, and at most `blob_max_readers`
readers are served at once (`503 too_many_blob_reads` with `Retry-After` beyond that).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from services.gateway.errors import try_again
from services.messaging.blobs import BlobCorruptError, OpenBlob

log = logging.getLogger(__name__)

# Content-addressed: a blob's bytes never change, so caches may keep them for good. The sandbox
# keeps an uploaded document from running anything in the gateway's origin.
BLOB_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
}
RETRY_AFTER_SECONDS = 1
# What uvicorn logs, at ERROR, when an app returns before its response is complete: the way a
# download cut short on purpose ends (the server then closes the connection).
UVICORN_INCOMPLETE = "ASGI callable returned without completing response."
# Set in the request's own task when the gateway cut its download short.
_cut_short: ContextVar[bool] = ContextVar("blob_download_cut_short", default=False)


class CutDownloadsFilter(logging.Filter):
    """Drops uvicorn's ERROR line for a download the gateway cut short itself (a slow reader,
    already logged at INFO); the same line for any other response stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_cut_short.get() and record.getMessage() == UVICORN_INCOMPLETE)


def quiet_cut_downloads(logger: logging.Logger) -> None:
    if not any(isinstance(f, CutDownloadsFilter) for f in logger.filters):
        logger.addFilter(CutDownloadsFilter())


class SlowReaderError(Exception):
    """The client took no chunk within the send timeout."""


class BlobReaders:
    """How many blob readers this gateway serves at once, bounded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        if self.active >= self.limit:
            raise try_again(
                "too_many_blob_reads",
                f"{self.limit} blobs are being read already; try again shortly",
                RETRY_AFTER_SECONDS,
            )
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


class BlobResponse(Response):
    """Streams an `OpenBlob` with its `Content-Length`, holding a reader slot until done."""

    def __init__(
        self,
        blob: OpenBlob,
        readers: BlobReaders,
        send_timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """`headers` are added to (or replace) `BLOB_HEADERS`."""
        headers = {
            **BLOB_HEADERS,
            **(headers or {}),
            "ETag": blob_etag(blob.blob_id),
            "Content-Length": str(blob.size),
        }
        super().__init__(None, media_type=blob.content_type, headers=headers)
        self._blob = blob
        # Taken now, so a refusal is an ordinary error answer; given back when streaming ends.
        self._slot = readers.slot()
        self._slot.__enter__()
        self._send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.create_task(_disconnected(receive))
        try:
            await self._send(send, self._start())
            async for chunk in self._blob.chunks():
                if gone.done():  # the client left: fetch no more chunks for nobody
                    return
                await self._send(send, _body(chunk, more=True))
            await self._send(send, _body(b"", more=False))
        except SlowReaderError:
            # Returning with the body unfinished makes the server close the connection.
            _cut_short.set(True)
            log.info("dropped a blob reader that took nothing for %g s", self._send_timeout)
        except BlobCorruptError:
            log.error("blob %s does not match its digest: the download was cut", self._blob.blob_id)
        finally:
            gone.cancel()
            self._slot.__exit__(None, None, None)

    def _start(self) -> Message:
        return {"type": "http.response.start", "status": 200, "headers": self.raw_headers}

    async def _send(self, send: Send, message: Message) -> None:
        try:
            await asyncio.wait_for(send(message), self._send_timeout)
        except TimeoutError as exc:
            raise SlowReaderError from exc


def blob_etag(blob_id: str) -> str:
    return f'"{blob_id}"'


def _body(chunk: bytes, *, more: bool) -> Message:
    return {"type": "http.response.body", "body": chunk, "more_body": more}


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
