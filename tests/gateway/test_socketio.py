"""Socket.IO at /socket.io/: the /ws protocol's events for Socket.IO clients.

python-socketio's `AsyncClient` against uvicorn in this process, and the official npm
`socket.io-client` (Node) through a gateway restart. Workers are simulated by appending updates
to the progress stream with `ProgressLog`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio  # type: ignore[import-untyped]
import uvicorn
import websockets
from nats.js import JetStreamContext
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from services.gateway.app import create_app, server_config
from services.gateway.settings import GatewaySettings
from services.gateway.socketio import SocketIOGateway
from services.messaging.progress_stream import progress_log
from tests.gateway.conftest import (
    ALLOWED_ORIGIN,
    TIMEOUT,
    Served,
    append_progress,
    append_steps,
    served,
)
from tests.support.waiting import wait_until

Task = dict[str, Any]
Event = tuple[str, Any]

REPO = Path(__file__).resolve().parents[2]
NODE_SCRIPT = Path(__file__).resolve().parent / "socketio_node" / "follow.mjs"
NODE_CLIENT = REPO / "clients" / "js" / "node_modules" / "socket.io-client"
KEYS = {"key-a": "tenant-a", "key-b": "tenant-b"}


async def new_task(base_url: str, api_key: str | None = None) -> Task:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
        response = await http.post(
            "/api/invoices/upload",
            json={"blob_url": "http://files.test/a.pdf", "filename": "a.pdf"},
        )
    assert response.status_code == 202, response.text
    task: Task = response.json()
    return task


class Sio:
    """A python-socketio client whose received events wait in a queue, in order."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[Event] = asyncio.Queue()

        async def any_event(event: str, *args: Any) -> None:
            await self.events.put((event, args[0] if len(args) == 1 else list(args)))

        self.client.on("*", any_event)
        self.refusals: list[Any] = []

        async def connect_error(data: Any = None) -> None:
            self.refusals.append(data)

        self.client.on("connect_error", connect_error)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        transports: tuple[str, ...] = ("websocket",),
        headers: dict[str, str] | None = None,
        auth: Any = None,
    ) -> Sio:
        sio = cls()
        try:
            await sio.client.connect(
                url,
                transports=list(transports),
                headers=headers or {},
                auth=auth,
                wait_timeout=TIMEOUT,
            )
        except socketio.exceptions.ConnectionError as exc:
            await sio.client.disconnect()
            exc.add_note(f"connect_error: {sio.refusals}")
            raise
        return sio

    async def emit(self, event: str, *args: Any) -> None:
        await self.client.emit(event, args[0] if len(args) == 1 else tuple(args))

    async def expect(self, event: str, timeout: float = TIMEOUT) -> Any:
        received, data = await asyncio.wait_for(self.events.get(), timeout)
        assert received == event, (received, data)
        return data

    async def updates(self, count: int) -> list[dict[str, Any]]:
        return [await self.expect("task_update") for _ in range(count)]

    async def join(self, task: Task, after_seq: int | None = None) -> None:
        data = {"task_id": task["task_id"], "token": task["token"]}
        if after_seq is not None:
            data["after_seq"] = after_seq
        await self.emit("join_task", data)
        assert await self.expect("joined_task") == {"task_id": task["task_id"]}

    async def still_open(self) -> None:
        """Also shows nothing else was queued before: the next event is the pong."""
        await self.emit("ping")
        assert await self.expect("pong") == {}

    async def close(self) -> None:
        await self.client.disconnect()


@contextlib.asynccontextmanager
async def sio_client(url: str, **kwargs: Any) -> AsyncIterator[Sio]:
    client = await Sio.open(url, **kwargs)
    try:
        assert (await client.expect("connected"))["sid"] == client.client.get_sid("/")
        yield client
    finally:
        await client.close()


@pytest.fixture
async def sio(server: Served) -> AsyncIterator[Sio]:
    async with sio_client(server.base_url) as client:
        yield client


async def test_connected_comes_first_and_ping_answers(server: Served) -> None:
    async with sio_client(server.base_url) as client:  # checks `connected` {sid}
        await client.still_open()
    assert isinstance(server.app.state.socketio, SocketIOGateway)


async def test_join_replays_then_streams_live_updates_in_order(
    server: Served, sio: Sio, js: JetStreamContext
) -> None:
    task = await new_task(server.base_url)
    log = progress_log(js, task["task_id"])
    await append_steps(log, 3)

    await sio.join(task)  # joined_task comes before the replay
    replayed = await sio.updates(3)
    await append_steps(log, 6, start=3)
    live = await sio.updates(3)

    assert [u["seq"] for u in replayed + live] == [1, 2, 3, 4, 5, 6]
    # The data is exactly the spec's task_update object, as on /ws.
    assert set(replayed[0]) >= {"type", "task_id", "seq", "progress", "stage", "message"}
    assert replayed[0]["task_id"] == task["task_id"] and replayed[0]["type"] == "stage_start"
    assert isinstance(replayed[0]["timestamp"], float)
    await sio.still_open()


async def test_after_seq_replays_only_what_was_missed(
    server: Served, sio: Sio, js: JetStreamContext
) -> None:
    task = await new_task(server.base_url)
    await append_steps(progress_log(js, task["task_id"]), 5)

    await sio.join(task, after_seq=3)

    assert [u["seq"] for u in await sio.updates(2)] == [4, 5]
    await sio.still_open()


async def test_a_wrong_token_gets_an_error_and_the_connection_stays(
    server: Served, sio: Sio
) -> None:
    task = await new_task(server.base_url)

    await sio.emit("join_task", {"task_id": task["task_id"], "token": "not-the-token"})

    error = await sio.expect("error")
    assert error["code"] == "invalid_token" and error["message"]
    await sio.still_open()
    await sio.join(task)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("dance", {}), "unknown_event"),
        (("join_task",), "invalid_data"),
        (("join_task", "task_0123"), "invalid_data"),  # a bare room name: the token is missing
        (("join_task", [1, 2]), "invalid_data"),
        (("join_task", {"task_id": "task_x"}), "invalid_data"),
        (("join_task", {"task_id": 1, "token": "t"}), "invalid_data"),
        (("join_task", {"task_id": "t", "token": "t", "after_seq": -1}), "invalid_data"),
        (("join_task", {"task_id": "task_" + "0" * 32, "token": "t"}), "task_not_found"),
        (("join_task", {"task_id": "a", "token": "b"}, "extra"), "invalid_data"),
        (("leave_task", {}), "invalid_data"),
    ],
)
async def test_bad_events_get_an_error_and_the_connection_stays(
    sio: Sio, args: tuple[Any, ...], code: str
) -> None:
    await sio.emit(*args)

    error = await sio.expect("error")

    assert error["code"] == code and error["message"]
    await sio.still_open()


async def test_leave_task_stops_its_updates(server: Served, sio: Sio, js: JetStreamContext) -> None:
    left, kept = await new_task(server.base_url), await new_task(server.base_url)
    await sio.join(left)
    await sio.join(kept)

    await sio.emit("leave_task", {"task_id": left["task_id"]})
    assert await sio.expect("left_task") == {"task_id": left["task_id"]}
    await append_steps(progress_log(js, left["task_id"]), 1)
    await append_steps(progress_log(js, kept["task_id"]), 1)

    assert (await sio.expect("task_update"))["task_id"] == kept["task_id"]
    await sio.still_open()


async def test_a_reconnect_with_after_seq_resumes_without_loss_or_repeats(
    server: Served, js: JetStreamContext
) -> None:
    task = await new_task(server.base_url)
    log = progress_log(js, task["task_id"])
    await append_progress(log, range(11, 16))  # seq 1..5
    seen: list[int] = []

    async with sio_client(server.base_url) as first:
        await first.join(task)
        seen += [u["seq"] for u in await first.updates(5)]
    # Gone for good: what is published meanwhile reaches nobody live.
    await append_progress(log, range(16, 21))  # seq 6..10

    async with sio_client(server.base_url) as second:
        await second.join(task, after_seq=seen[-1])
        seen += [u["seq"] for u in await second.updates(5)]
        await append_progress(log, range(21, 23))  # seq 11, 12 live
        seen += [u["seq"] for u in await second.updates(2)]
        await second.still_open()

    assert seen == list(range(1, 13))


async def test_long_polling_works_too(server: Served, js: JetStreamContext) -> None:
    task = await new_task(server.base_url)
    await append_steps(progress_log(js, task["task_id"]), 2)

    async with sio_client(server.base_url, transports=("polling",)) as client:
        await client.join(task)
        assert [u["seq"] for u in await client.updates(2)] == [1, 2]
        await client.still_open()


@pytest.mark.parametrize("transports", [("websocket",), ("polling",)])
async def test_a_foreign_origin_is_refused(server: Served, transports: tuple[str, ...]) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Sio.open(
            server.base_url, transports=transports, headers={"Origin": "http://evil.test"}
        )
    assert server.app.state.socketio.connections() == 0


async def test_a_foreign_origin_gets_403_at_the_websocket_handshake(server: Served) -> None:
    url = server.ws_url.replace("/ws", "/socket.io/?EIO=4&transport=websocket")
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(url, origin=Origin("http://evil.test"), open_timeout=TIMEOUT)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("origin", [ALLOWED_ORIGIN, "own"])
async def test_allowed_origins_and_the_gateways_own_page_connect(
    server: Served, origin: str
) -> None:
    origin = server.base_url if origin == "own" else origin
    async with sio_client(server.base_url, headers={"Origin": origin}) as client:
        await client.still_open()


async def test_polling_answers_cors_for_allowed_origins_only(server: Served) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        allowed = await http.get(
            "/socket.io/",
            params={"EIO": "4", "transport": "polling"},
            headers={"Origin": ALLOWED_ORIGIN},
        )
        foreign = await http.get(
            "/socket.io/",
            params={"EIO": "4", "transport": "polling"},
            headers={"Origin": "http://evil.test"},
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers


async def test_the_http_api_still_answers_next_to_socketio(server: Served) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await http.get("/api/health")).status_code == 200


async def test_api_keys_scope_a_connection_to_its_tenant(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    async with served(settings_for(api_keys=KEYS)) as server:
        task = await new_task(server.base_url, api_key="key-a")
        join = {"task_id": task["task_id"], "token": task["token"]}

        # Another tenant's task does not exist for it, token or not.
        async with sio_client(server.base_url, auth={"token": "key-b"}) as other:
            await other.emit("join_task", join)
            assert (await other.expect("error"))["code"] == "task_not_found"
            await other.still_open()

        # The owner's key, from the auth payload or from the Authorization header.
        async with sio_client(server.base_url, auth={"token": "key-a"}) as owner:
            await owner.join(task)
        headers = {"Authorization": "Bearer key-a"}
        async with sio_client(server.base_url, headers=headers) as owner:
            await owner.join(task)
        headers = {"Authorization": "Bearer key-b"}
        async with sio_client(server.base_url, headers=headers) as other:
            await other.emit("join_task", join)
            assert (await other.expect("error"))["code"] == "task_not_found"

        # No key: the task token alone counts, as on /ws.
        async with sio_client(server.base_url) as keyless:
            await keyless.join(task)


@pytest.mark.parametrize(
    "credentials",
    [{"auth": {"token": "wrong"}}, {"headers": {"Authorization": "Bearer wrong"}}],
)
async def test_a_wrong_api_key_refuses_the_connection(
    settings_for: Callable[..., GatewaySettings], credentials: dict[str, Any]
) -> None:
    async with served(settings_for(api_keys=KEYS)) as server:
        with pytest.raises(socketio.exceptions.ConnectionError) as refused:
            await Sio.open(server.base_url, **credentials)
        assert refused.value.__notes__ == [
            "connect_error: [{'message': 'invalid API key', "
            "'data': {'code': 'unauthorized', 'message': 'invalid API key'}}]"
        ]
        assert server.app.state.socketio.connections() == 0


async def test_a_client_that_falls_too_far_behind_is_dropped(
    settings_for: Callable[..., GatewaySettings], js: JetStreamContext
) -> None:
    async with served(settings_for(ws_send_queue=4)) as server:
        task = await new_task(server.base_url)
        await append_progress(progress_log(js, task["task_id"]), range(11, 41))  # seq 1..30
        sio_gateway: SocketIOGateway = server.app.state.socketio
        async with sio_client(server.base_url) as client:
            dropped = asyncio.Event()
            client.client.on("disconnect", lambda *_: dropped.set())

            # Thirty updates at once for a queue of four: more than this client may have waiting.
            await client.emit("join_task", {"task_id": task["task_id"], "token": task["token"]})

            # The server drops the transport (a socket.io-client reconnects and resumes).
            await asyncio.wait_for(dropped.wait(), TIMEOUT)

            async def gone() -> bool:
                return sio_gateway.connections() == 0

            await wait_until(gone, TIMEOUT)


# --- the official npm socket.io-client -------------------------------------------------------


class Restartable:
    """The gateway on a port that stays bound across restarts: connections made while it is
    down wait in the kernel's queue until the next server accepts them."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        app = create_app(self.settings)
        self._server = uvicorn.Server(
            server_config(app, self.settings, log_config=None, log_level="warning")
        )
        # uvicorn closes the sockets it serves when it stops: give it a duplicate.
        self._task = asyncio.create_task(self._server.serve(sockets=[self.sock.dup()]))

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, TIMEOUT)
        self._server = self._task = None

    async def close(self) -> None:
        await self.stop()
        self.sock.close()


class NodeClient:
    """`node follow.mjs …`, one JSON object per stdout line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[dict[str, Any]] = []

    async def until(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(TIMEOUT):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    assert self.process.stderr is not None
                    stderr = (await self.process.stderr.read()).decode()
                    raise AssertionError(f"node exited: {self.seen} {stderr}")
                event: dict[str, Any] = json.loads(line)
                self.seen.append(event)
                if wanted(event):
                    return event


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not NODE_CLIENT.is_dir():
        pytest.skip(f"{NODE_CLIENT} is missing: `make install` runs `npm ci` in clients/js")
    return node


async def test_the_npm_client_reconnects_by_itself_and_resumes_without_loss(
    settings_for: Callable[..., GatewaySettings], js: JetStreamContext
) -> None:
    node = node_or_skip()
    gateway = Restartable(settings_for())
    gateway.start()
    process = None
    try:
        task = await new_task(gateway.base_url)
        log = progress_log(js, task["task_id"])
        await append_steps(log, 2)
        process = await asyncio.create_subprocess_exec(
            node,
            str(NODE_SCRIPT),
            gateway.base_url,
            task["task_id"],
            task["token"],
            "6",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        client = NodeClient(process)
        connected = await client.until(lambda e: e["event"] == "connected")
        await client.until(lambda e: e["event"] == "task_update" and e["seq"] == 2)
        await append_steps(log, 3, start=2)  # seq 3, live
        await client.until(lambda e: e["event"] == "task_update" and e["seq"] == 3)

        await gateway.stop()  # every connection is cut
        await client.until(lambda e: e["event"] == "disconnect")
        await append_steps(log, 5, start=3)  # seq 4, 5 while nobody listens
        gateway.start()

        rejoined = await client.until(lambda e: e["event"] == "joined_task" and e["after_seq"] > 0)
        assert rejoined["after_seq"] == 3
        await append_steps(log, 6, start=5)  # seq 6, live again
        done = await client.until(lambda e: e["event"] == "done")
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
    finally:
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        await gateway.close()

    assert done["seqs"] == [1, 2, 3, 4, 5, 6]  # each once, in order, across the reconnect
    events = [e["event"] for e in client.seen]
    assert events.count("connect") == 2 and events.count("joined_task") == 2
    assert "error" not in events
    disconnect = next(e for e in client.seen if e["event"] == "disconnect")
    assert disconnect["reason"] == "transport close"  # so socket.io-client reconnects itself
    reconnected = [e for e in client.seen if e["event"] == "connected"]
    assert reconnected[0] == connected and reconnected[1]["sid"] != connected["sid"]
