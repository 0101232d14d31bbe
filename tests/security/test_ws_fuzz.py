"""Hostile /ws and Socket.IO frames: each gets a coded `error` event or a proper close code,
and never kills the socket's reader or the gateway."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio  # type: ignore[import-untyped]
from websockets.exceptions import ConnectionClosed, InvalidStatus

from services.gateway.app import WS_MAX_FRAME_BYTES
from tests.gateway import test_ws as gateway_ws
from tests.gateway.conftest import TIMEOUT, Served, Ws, make_settings, served


def nested(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def deep_frame(depth: int) -> str:
    """A ping whose data nests `depth` levels (the frame object itself is one more)."""
    return json.dumps({"event": "ping", "data": nested(depth)})


# The gateway tests' client fixture (connected to `server`, below) and their liveness check.
ws = gateway_ws.ws
still_open = gateway_ws.still_open


@pytest.fixture
async def server(nats_url: str) -> AsyncIterator[Served]:
    async with served(make_settings(nats_url, json_max_depth=32)) as started:
        yield started


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 1000 + "]" * 1000,  # 2 KB, 1,000 deep: used to kill the reader silently
        deep_frame(300),
        deep_frame(32),  # 33 with the frame object
        '{"event": "ping", "data": {"s": "' + "[" * 100 + '", "x": ' + "[" * 40 + "]" * 40 + "}}",
    ],
    ids=["brackets-1000", "object-300", "object-33", "brackets-after-a-string"],
)
async def test_a_frame_nested_too_deep_gets_an_error_and_the_socket_stays_open(
    ws: Ws, frame: str
) -> None:
    await ws.connection.send(frame)

    error = await ws.expect("error")

    assert error["code"] == "json_too_deep"
    assert "32" in error["message"]
    await still_open(ws)


async def test_a_frame_within_the_depth_limit_is_handled(ws: Ws) -> None:
    # Brackets inside strings (escaped quotes too) do not count.
    await ws.connection.send(
        json.dumps({"event": "ping", "data": {"s": '\\"' + "[" * 100, "n": nested(30)}})
    )

    assert await ws.expect("pong") == {}


async def test_a_frame_over_the_size_limit_closes_with_1009(ws: Ws) -> None:
    frame = json.dumps({"event": "ping", "data": {"pad": "x" * WS_MAX_FRAME_BYTES}})

    await ws.connection.send(frame)

    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_invalid_utf8_in_a_text_frame_closes_with_1007(ws: Ws) -> None:
    await ws.connection.send(b'{"event": "ping", "data": {"s": "\xff\xfe"}}', text=True)

    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007


@pytest.mark.parametrize(
    "frame",
    [b"\x00\xff", b"[" * 1000, b'{"event": "ping"}'],
    ids=["garbage", "deep", "json"],
)
async def test_binary_frames_get_an_error_and_the_socket_stays_open(ws: Ws, frame: bytes) -> None:
    await ws.connection.send(frame)

    assert (await ws.expect("error"))["code"] == "bad_frame"
    await still_open(ws)


@pytest.mark.parametrize(
    "frame",
    ["", "null", '"event"', "1e999999", '{"event": null}', '{"event": "ping", "data": 7}'],
)
async def test_odd_frames_get_an_error(ws: Ws, frame: str) -> None:
    await ws.connection.send(frame)

    error = await ws.expect("error")
    assert error["code"] in ("bad_frame", "invalid_data") and error["message"]
    await still_open(ws)


async def test_a_flood_is_answered_in_order_or_closed_as_too_slow(server: Served) -> None:
    """Pings faster than the pongs are read: the bounded queue answers them in order and, once
    full, closes the socket with 1013 (the fanout policy); other sockets are not held up."""
    flooder, bystander = await Ws.open(server.ws_url), await Ws.open(server.ws_url)
    await flooder.expect("connected")
    await bystander.expect("connected")
    count = 5000
    for _ in range(count):
        await flooder.connection.send('{"event": "ping", "data": {}}')
    await flooder.connection.send("[" * 1000)
    await still_open(bystander)

    events: list[str] = []
    try:
        while len(events) < count + 1:
            events.append((await flooder.recv())["event"])
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 1013
        assert set(events) <= {"pong"}
    else:
        assert events == ["pong"] * count + ["error"]
        await still_open(flooder)
    await still_open(bystander)
    await bystander.close()


async def test_a_socketio_message_nested_too_deep_gets_an_error(server: Served) -> None:
    client = socketio.AsyncClient(reconnection=False)
    errors: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    pongs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    client.on("error", errors.put_nowait)
    client.on("pong", pongs.put_nowait)
    await client.connect(server.base_url, transports=["websocket"], wait_timeout=TIMEOUT)
    try:
        await client.emit("ping", nested(200))
        error = await asyncio.wait_for(errors.get(), TIMEOUT)
        assert error["code"] == "json_too_deep"

        await client.emit("ping", {})
        assert await asyncio.wait_for(pongs.get(), TIMEOUT) == {}
        assert client.connected
    finally:
        await client.disconnect()


async def test_a_dns_rebinding_page_is_refused_at_the_handshake(server: Served) -> None:
    """The page's name points at the gateway: Host and Origin both name it. Without a public
    URL only loopback hosts are the gateway's own origin, so this one is foreign."""
    port = int(server.base_url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    rebound = f"rebind.evil.test:{port}"

    with pytest.raises(InvalidStatus) as refused:
        await Ws.open(f"ws://{rebound}/ws", sock=sock, origin=f"http://{rebound}")

    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body or b"{}")["error"]["code"] == "origin_not_allowed"


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    loud = [(r.name, r.getMessage()) for r in caplog.records if r.levelno >= logging.ERROR]
    assert loud == []
    assert not any(record.exc_info for record in caplog.records)


async def test_a_refused_handshake_is_no_error_in_the_log(
    nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with served(make_settings(nats_url, api_keys={"key-a": "tenant-a"})) as keyed:
        for kwargs in (
            {"origin": "http://evil.test"},
            {"additional_headers": {"Authorization": "Bearer wrong"}},
        ):
            with pytest.raises(InvalidStatus):
                await Ws.open(keyed.ws_url, **kwargs)
        refused: list[dict[str, Any]] = [
            {"auth": {"token": "wrong"}},
            {"headers": {"Origin": "http://evil.test"}},
        ]
        for options in refused:
            client = socketio.AsyncClient(reconnection=False)
            try:
                with pytest.raises(socketio.exceptions.ConnectionError):
                    await client.connect(
                        keyed.base_url, transports=["websocket"], wait_timeout=TIMEOUT, **options
                    )
            finally:
                if client.eio.http is not None:  # the failed connect leaves its session open
                    await client.eio.http.close()

    assert any("refused a /ws handshake" in record.getMessage() for record in caplog.records)
    no_errors_logged(caplog)
