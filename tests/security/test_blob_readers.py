"""`GET /blobs/{id}` against readers that do not read: streamed in chunks, each reader dropped
when it takes nothing within the send timeout, and only so many served at once."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import Message

from services.gateway.downloads import BlobReaders, BlobResponse
from services.messaging.blobs import OpenBlob
from tests.gateway.conftest import TIMEOUT, Served, make_settings, served
from tests.support.waiting import wait_until

# Larger than what the kernel buffers for one loopback connection: a reader that never reads
# leaves the gateway waiting on its socket.
BIG = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def big() -> bytes:
    return b"%PDF-1.4\n" + os.urandom(BIG)


async def store(server: Served, data: bytes) -> str:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await http.get("/api/health")).status_code == 200  # the lifespan has run
    stored = await server.gateway.blobs.put(data, "application/pdf")
    return stored.blob_id


async def slow_reader(server: Served, blob_id: str) -> asyncio.StreamWriter:
    """A client that asks for the blob and never reads a byte of the answer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    port = int(server.base_url.rsplit(":", 1)[1])
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    _, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET /blobs/{blob_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    return writer


def readers_of(server: Served) -> BlobReaders:
    return server.gateway.blob_readers


async def active_is(server: Served, count: int) -> None:
    async def reached() -> bool:
        return readers_of(server).active == count

    await wait_until(reached, timeout=TIMEOUT)


@pytest.fixture
async def server(nats_url: str) -> AsyncIterator[Served]:
    settings = make_settings(nats_url, blob_max_readers=2, blob_send_timeout_seconds=30)
    async with served(settings) as started:
        yield started


async def test_a_blob_is_streamed_whole_with_its_length(server: Served, big: bytes) -> None:
    blob_id = await store(server, big)
    digest = hashlib.sha256()
    async with (
        httpx.AsyncClient(base_url=server.base_url) as http,
        http.stream("GET", f"/blobs/{blob_id}") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(big))
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["etag"] == f'"{blob_id}"'
        async for part in response.aiter_bytes():
            digest.update(part)
    assert digest.hexdigest() == blob_id
    await active_is(server, 0)


async def test_readers_past_the_limit_get_503_with_retry_after(server: Served, big: bytes) -> None:
    blob_id = await store(server, big)
    stalled = [await slow_reader(server, blob_id) for _ in range(2)]
    await active_is(server, 2)

    async with httpx.AsyncClient(base_url=server.base_url) as http:
        refused = await http.get(f"/blobs/{blob_id}")
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "too_many_blob_reads"
        assert refused.headers["retry-after"] == "1"

        # A reader that leaves gives its place back.
        stalled[0].close()
        await active_is(server, 1)
        assert (await http.get(f"/blobs/{blob_id}")).content == big
    stalled[1].close()
    await active_is(server, 0)


async def test_a_reader_that_takes_nothing_is_dropped_after_the_send_timeout(
    nats_url: str, big: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = make_settings(nats_url, blob_send_timeout_seconds=0.5)
    async with served(settings) as server:
        blob_id = await store(server, big)
        writer = await slow_reader(server, blob_id)
        await active_is(server, 1)

        await active_is(server, 0)  # dropped, without the client doing anything

        writer.close()
    dropped = [r for r in caplog.records if "dropped a blob reader" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].levelno == logging.INFO
    # Cutting a download short is the gateway's answer to a slow reader, not an error.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


class StalledSend:
    """An ASGI `send` whose body messages are never taken (a reader that stopped reading)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)
        if message["type"] == "http.response.body":
            await asyncio.Event().wait()


async def test_a_stalled_send_ends_the_response_and_frees_the_slot() -> None:
    fetched: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(100):
            fetched.append(index)
            yield b"x" * 1024

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    readers = BlobReaders(1)
    response = BlobResponse(OpenBlob("0" * 64, 100 * 1024, "application/pdf", chunks), readers, 0.2)
    assert readers.active == 1
    send = StalledSend()

    await asyncio.wait_for(response({"type": "http"}, receive, send), TIMEOUT)

    assert readers.active == 0
    # One chunk was fetched and offered; none more was read from the store.
    assert fetched == [0]
    assert [m["type"] for m in send.messages] == ["http.response.start", "http.response.body"]
