"""The /ws protocol over a real socket: uvicorn in this process, workers simulated by appending
updates to the progress stream with `ProgressLog`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import websockets
from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from websockets.exceptions import ConnectionClosed, InvalidStatus

from contracts import Stage, UpdateType
from services.gateway.settings import GatewaySettings
from services.messaging.progress_stream import progress_log
from tests.gateway.conftest import (
    ALLOWED_ORIGIN,
    Served,
    Ws,
    append_progress,
    append_steps,
    served,
)

Task = dict[str, Any]


async def new_task(server: Served, api_key: str | None = None) -> Task:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
        response = await http.post(
            "/api/invoices/upload",
            json={"blob_url": "http://files.test/a.pdf", "filename": "a.pdf"},
        )
    assert response.status_code == 202, response.text
    task: Task = response.json()
    return task


@pytest.fixture
async def ws(server: Served) -> AsyncIterator[Ws]:
    client = await Ws.open(server.ws_url)
    await client.expect("connected")
    yield client
    await client.close()


async def still_open(client: Ws) -> None:
    await client.send("ping")
    assert await client.expect("pong") == {}


async def test_connected_carries_a_session_id(server: Served) -> None:
    client = await Ws.open(server.ws_url)
    try:
        hello = await client.expect("connected")
        assert isinstance(hello["sid"], str) and hello["sid"]
    finally:
        await client.close()


async def test_ping_pong(ws: Ws) -> None:
    await still_open(ws)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"data": {}}', "bad_frame"),
        ('{"event": "dance", "data": {}}', "unknown_event"),
        ('{"event": "join_task", "data": []}', "invalid_data"),
        ('{"event": "join_task", "data": {"task_id": "task_x"}}', "invalid_data"),
        ('{"event": "join_task", "data": {"task_id": 1, "token": "t"}}', "invalid_data"),
        ('{"event": "leave_task", "data": {}}', "invalid_data"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(
    ws: Ws, frame: str, code: str
) -> None:
    await ws.connection.send(frame)

    error = await ws.expect("error")

    assert error["code"] == code and error["message"]
    await still_open(ws)


async def test_binary_frames_are_refused(ws: Ws) -> None:
    await ws.connection.send(b'{"event": "ping"}')

    assert (await ws.expect("error"))["code"] == "bad_frame"
    await still_open(ws)


async def test_a_wrong_token_is_refused_and_the_socket_stays_open(server: Served, ws: Ws) -> None:
    task = await new_task(server)

    await ws.send("join_task", {"task_id": task["task_id"], "token": "not-the-token"})

    assert (await ws.expect("error"))["code"] == "invalid_token"
    await still_open(ws)
    await ws.send("join_task", {"task_id": task["task_id"], "token": task["token"]})
    assert await ws.expect("joined_task") == {"task_id": task["task_id"]}


async def test_an_unknown_task_is_refused(ws: Ws) -> None:
    await ws.send("join_task", {"task_id": "task_" + "0" * 32, "token": "t"})

    assert (await ws.expect("error"))["code"] == "task_not_found"
    await still_open(ws)


async def test_joined_task_comes_before_the_replay(
    server: Served, ws: Ws, js: JetStreamContext
) -> None:
    task = await new_task(server)
    await append_steps(progress_log(js, task["task_id"]), 3)

    await ws.send("join_task", {"task_id": task["task_id"], "token": task["token"]})

    assert await ws.expect("joined_task") == {"task_id": task["task_id"]}
    updates = await ws.updates(3)
    assert [u["seq"] for u in updates] == [1, 2, 3]
    spec_fields = {"type", "task_id", "seq", "progress", "stage", "message", "timestamp"}
    assert spec_fields <= set(updates[0])
    assert isinstance(updates[0]["timestamp"], float)


async def test_after_seq_replays_only_what_the_client_missed(
    server: Served, ws: Ws, js: JetStreamContext
) -> None:
    task = await new_task(server)
    await append_steps(progress_log(js, task["task_id"]), 5)

    await ws.send("join_task", {"task_id": task["task_id"], "token": task["token"], "after_seq": 3})

    await ws.expect("joined_task")
    assert [u["seq"] for u in await ws.updates(2)] == [4, 5]
    await still_open(ws)  # and nothing else was sent before the pong


async def test_a_late_joiner_gets_the_whole_history_once_while_updates_race(
    server: Served, js: JetStreamContext
) -> None:
    task = await new_task(server)
    log = progress_log(js, task["task_id"])
    await append_progress(log, range(11, 21))
    clients = [await Ws.open(server.ws_url) for _ in range(3)]
    try:
        for client in clients:
            await client.expect("connected")

        async def write() -> None:
            await append_progress(log, range(21, 60))
            await log.append(UpdateType.ERROR, Stage.LLM_EXTRACTION, 59, "stop")

        async def join(client: Ws) -> list[dict[str, Any]]:
            await client.send("join_task", {"task_id": task["task_id"], "token": task["token"]})
            await client.expect("joined_task")
            return await client.until_terminal()

        _, *received = await asyncio.gather(write(), *(join(client) for client in clients))
    finally:
        for client in clients:
            await client.close()

    for updates in received:
        assert [u["seq"] for u in updates] == list(range(1, 51))


async def test_late_and_live_clients_see_the_same_updates(
    server: Served, ws: Ws, js: JetStreamContext
) -> None:
    task = await new_task(server)
    await ws.send("join_task", {"task_id": task["task_id"], "token": task["token"]})
    await ws.expect("joined_task")
    log = progress_log(js, task["task_id"])
    await append_steps(log, 3)
    await log.append(UpdateType.ERROR, Stage.LLM_EXTRACTION, 10, "stop")
    live = await ws.until_terminal()

    late = await Ws.open(server.ws_url)
    try:
        await late.expect("connected")
        await late.send("join_task", {"task_id": task["task_id"], "token": task["token"]})
        await late.expect("joined_task")
        assert await late.until_terminal() == live
    finally:
        await late.close()


async def test_one_socket_follows_many_tasks(server: Served, ws: Ws, js: JetStreamContext) -> None:
    first, second = await new_task(server), await new_task(server)
    for task in (first, second):
        await ws.send("join_task", {"task_id": task["task_id"], "token": task["token"]})
        await ws.expect("joined_task")

    await append_steps(progress_log(js, first["task_id"]), 2)
    await append_steps(progress_log(js, second["task_id"]), 3)

    by_task: dict[str, list[int]] = {first["task_id"]: [], second["task_id"]: []}
    for update in await ws.updates(5):
        by_task[update["task_id"]].append(update["seq"])
    assert by_task == {first["task_id"]: [1, 2], second["task_id"]: [1, 2, 3]}


async def test_leave_task_stops_its_updates(server: Served, ws: Ws, js: JetStreamContext) -> None:
    left, kept = await new_task(server), await new_task(server)
    for task in (left, kept):
        await ws.send("join_task", {"task_id": task["task_id"], "token": task["token"]})
        await ws.expect("joined_task")

    await ws.send("leave_task", {"task_id": left["task_id"]})
    assert await ws.expect("left_task") == {"task_id": left["task_id"]}
    await append_steps(progress_log(js, left["task_id"]), 1)
    await append_steps(progress_log(js, kept["task_id"]), 1)

    update = await ws.expect("task_update")
    assert update["task_id"] == kept["task_id"]
    await still_open(ws)


async def test_a_client_that_falls_too_far_behind_is_closed_and_resumes(
    settings_for: Callable[..., GatewaySettings], js: JetStreamContext
) -> None:
    async with served(settings_for(ws_send_queue=8)) as server:
        task = await new_task(server)
        join = {"task_id": task["task_id"], "token": task["token"]}
        log = progress_log(js, task["task_id"])
        await append_progress(log, range(11, 41))  # seq 1..30
        healthy = await Ws.open(server.ws_url)
        behind = await Ws.open(server.ws_url, max_queue=1)  # its library stops reading
        await healthy.expect("connected")
        await behind.expect("connected")
        await healthy.send("join_task", {**join, "after_seq": 28})
        await healthy.expect("joined_task")
        assert [u["seq"] for u in await healthy.updates(2)] == [29, 30]
        await behind.send("join_task", join)

        # Frames first fill the buffers between the gateway and a client that reads nothing
        # (the kernel's, the transport's); only then do they wait in its outbox, which closes
        # at the ninth. Bulky updates until then; the healthy socket gets each one meanwhile.
        closes_before = slow_socket_closes()
        seq, bulky = 30, "x" * 400_000
        while slow_socket_closes() == closes_before:
            assert seq < 30 + 58, "23 MB sent and the socket that reads nothing is still open"
            seq += 1  # progress 41%, 42%, ...: each update must move on
            await log.append(UpdateType.PROGRESS, Stage.LLM_EXTRACTION, seq + 10, bulky)
            assert (await healthy.expect("task_update"))["seq"] == seq  # nobody else held up

        seen: list[int] = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frame = await behind.recv()
                if frame["event"] == "task_update":
                    seen.append(frame["data"]["seq"])
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        assert seen == list(range(1, len(seen) + 1))
        assert len(seen) < seq

        await log.append(UpdateType.PROGRESS, Stage.LLM_EXTRACTION, seq + 11, "later")
        assert (await healthy.expect("task_update"))["seq"] == seq + 1
        await healthy.close()

        resumed = await Ws.open(server.ws_url)
        try:
            await resumed.expect("connected")
            await resumed.send("join_task", {**join, "after_seq": 26})
            await resumed.expect("joined_task")
            assert [u["seq"] for u in await resumed.updates(5)] == [27, 28, 29, 30, 31]
        finally:
            await resumed.close()


def slow_socket_closes() -> float:
    return REGISTRY.get_sample_value("invoiceflow_slow_socket_closes_total") or 0.0


async def test_a_foreign_origin_is_refused_at_the_handshake(server: Served) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await Ws.open(server.ws_url, origin="http://evil.test")

    assert refused.value.response.status_code == 403
    body = json.loads(refused.value.response.body or b"{}")
    assert body["error"]["code"] == "origin_not_allowed"


@pytest.mark.parametrize("origin", [ALLOWED_ORIGIN, None])
async def test_allowed_origins_and_non_browsers_connect(server: Served, origin: str | None) -> None:
    client = await Ws.open(server.ws_url, origin=origin)
    try:
        await client.expect("connected")
    finally:
        await client.close()


async def test_the_gateways_own_page_may_connect(server: Served) -> None:
    own = server.base_url  # what a browser sends from the page served at "/"
    client = await Ws.open(server.ws_url, origin=own)
    try:
        await client.expect("connected")
    finally:
        await client.close()


async def test_permessage_deflate_is_off(server: Served) -> None:
    # The client offers compression; the server must decline it.
    connection = await websockets.connect(server.ws_url, compression="deflate")
    try:
        assert connection.response is not None
        assert "Sec-WebSocket-Extensions" not in connection.response.headers
    finally:
        await connection.close()


async def test_a_socket_may_follow_only_so_many_running_tasks(
    settings_for: Callable[..., GatewaySettings], js: JetStreamContext
) -> None:
    async with served(settings_for(ws_max_tasks=1)) as server:
        done, active, other = [await new_task(server) for _ in range(3)]
        client = await Ws.open(server.ws_url)
        try:
            await client.expect("connected")
            await append_steps(progress_log(js, done["task_id"]), 1)
            await progress_log(js, done["task_id"]).append(
                UpdateType.ERROR, Stage.FETCH, 5, "failed"
            )
            await client.send("join_task", {"task_id": done["task_id"], "token": done["token"]})
            await client.expect("joined_task")
            assert len(await client.until_terminal()) == 2

            # The ended task does not count: a running one may be joined...
            await client.send("join_task", {"task_id": active["task_id"], "token": active["token"]})
            await client.expect("joined_task")
            # ...but then the socket is full.
            await client.send("join_task", {"task_id": other["task_id"], "token": other["token"]})
            assert (await client.expect("error"))["code"] == "too_many_tasks"
            await still_open(client)
        finally:
            await client.close()
