"""The bench's minimal WebSocket client against the `websockets` library's server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from http import HTTPStatus

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from bench import light_ws

TIMEOUT = 10.0


async def echo_then_more(ws: ServerConnection) -> None:
    """Answers each text with: itself, 300 B, 70 KB, the same in three fragments; on "ping"
    pings the client and reports whether its pong came; on "close" closes."""
    async for message in ws:
        if message == "ping":
            pong = await ws.ping()
            await asyncio.wait_for(pong, TIMEOUT)
            await ws.send("pong came")
        elif message == "close":
            await ws.close(1000)
        else:
            await ws.send(str(message))
            await ws.send("m" * 300)
            await ws.send("l" * 70_000)
            await ws.send(["frag", "ment", "ed"])


def refuse(_: ServerConnection, request: Request) -> Response | None:
    if request.path == "/refused":
        return Response(HTTPStatus.FORBIDDEN, "Forbidden", Headers(), b"no")
    return None


@pytest.fixture
async def server() -> AsyncIterator[str]:
    started: Server = await serve(
        echo_then_more, "127.0.0.1", 0, compression=None, process_request=refuse
    )
    port = next(iter(started.sockets)).getsockname()[1]
    yield f"ws://127.0.0.1:{port}/ws?x=1"
    started.close()
    await started.wait_closed()


async def test_messages_of_every_length_arrive_whole_and_in_order(server: str) -> None:
    ws = await light_ws.connect(server)
    before = time.time()

    await ws.send("hello ✓")

    got = [await asyncio.wait_for(ws.recv_stamped(), TIMEOUT) for _ in range(4)]
    assert [text for text, _ in got] == ["hello ✓", "m" * 300, "l" * 70_000, "fragmented"]
    assert all(before <= arrival <= time.time() for _, arrival in got)
    await ws.close()


async def test_a_ping_is_answered(server: str) -> None:
    ws = await light_ws.connect(server)

    await ws.send("ping")

    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "pong came"
    await ws.close()


async def test_a_close_from_the_server_ends_the_messages(server: str) -> None:
    ws = await light_ws.connect(server)
    await ws.send("close")

    async def drain() -> list[str]:
        return [text async for text, _ in ws.stamped()]

    assert await asyncio.wait_for(drain(), TIMEOUT) == []
    with pytest.raises(light_ws.ConnectionClosed):
        await ws.send("after")


async def test_a_refused_handshake_fails_the_connect(server: str) -> None:
    with pytest.raises(light_ws.HandshakeFailed):
        await light_ws.connect(server.replace("/ws?x=1", "/refused"), open_timeout=TIMEOUT)


def test_the_accept_key_is_rfc_6455s_example() -> None:
    assert light_ws.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_a_masked_frame_unmasks_to_its_payload() -> None:
    payload = "join ✓ ".encode() * 30  # not a multiple of the 4-byte key
    frame = light_ws.encode_frame(0x1, payload)

    assert frame[1] & 0x80  # the mask bit: clients must mask
    mask, masked = frame[4:8], frame[8:]
    assert masked != payload
    assert light_ws.apply_mask(masked, mask) == payload
