"""A load of tasks through the public API, followed live on /ws by clients that reconnect.

`Load` submits tasks (upload, then trigger) at a steady rate on any gateway of a stack, retrying
while a gateway or NATS is away, and hands each accepted task to one of its `Follower`s: a /ws
client that joins the task after the trigger returned (as the upload page does) and, whenever its
socket drops, reconnects to a gateway and joins every unfinished task again with `after_seq` =
the last `seq` it received. Each task's `TaskTrace` records what its client received, so a `seq`
missing (a gap) or seen twice (a double) shows, and when: server timestamps of every update.

Used by the fault drills (testkit/drills.py) and the scale-out benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection

from testkit.documents import image_bytes

Event = dict[str, Any]
TERMINAL = ("complete", "error")
# Reconnect and retry delays (seconds): a client's backoff with jitter, not synchronisation.
RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0)
# Statuses a client retries: the gateway or what it needs is away (503 while NATS is down).
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


class SubmitError(RuntimeError):
    """The gateway refused a submission for good (a 4xx): a bug in the load, not a fault."""


def retry_delay(attempt: int) -> float:
    base = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
    return base * random.uniform(0.5, 1.5)


@dataclass
class TaskTrace:
    """One accepted task as its client saw it."""

    task_id: str
    token: str
    accepted_at: float  # epoch seconds: when the accepted trigger was sent
    follower: int
    submitted_via: str = ""  # the gateway that accepted it
    followed_via: str | None = None  # the gateway its client was connected to then
    stamps: dict[int, float] = field(default_factory=dict)  # seq -> the update's timestamp
    received_at: dict[int, float] = field(default_factory=dict)  # seq -> when it arrived
    doubles: int = 0
    terminal: str | None = None  # "complete" or "error" once received
    error_code: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def last_seq(self) -> int:
        return max(self.stamps, default=0)

    @property
    def gaps(self) -> int:
        """Seqs below the highest received that never arrived."""
        return self.last_seq - len(self.stamps)

    def receive(self, update: Event) -> None:
        seq = int(update["seq"])
        if seq in self.stamps:
            self.doubles += 1
            return
        self.stamps[seq] = float(update["timestamp"])
        self.received_at[seq] = time.time()
        if update["type"] in TERMINAL:
            self.terminal = update["type"]
            error = update.get("error") or {}
            self.error_code = error.get("code")
            self.done.set()

    @property
    def terminal_received_at(self) -> float | None:
        return self.received_at[self.last_seq] if self.terminal else None

    def first_update_wait(self) -> float | None:
        """From the accepted trigger to the task's first update (server time)."""
        if 1 not in self.stamps:
            return None
        return max(self.stamps[1] - self.accepted_at, 0.0)

    def longest_silence(self) -> float:
        """The longest time the task went without an update, from its acceptance on."""
        times = [self.accepted_at, *(self.stamps[seq] for seq in sorted(self.stamps))]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


class Follower:
    """One /ws client following many tasks; it reconnects and resumes by itself."""

    def __init__(self, index: int, ws_urls: Sequence[str]) -> None:
        self.index = index
        self.ws_urls = list(ws_urls)
        self.tasks: dict[str, TaskTrace] = {}
        self.reconnects = 0  # connections after the first
        self._connections = 0
        self.url: str | None = None  # the gateway it is connected to, while it is
        self.connected = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._joined: set[str] = set()  # joined on the current connection
        self._pending: deque[str] = deque()  # joins sent, awaiting joined_task or error
        self._closing = False
        self._runner: asyncio.Task[None] | None = None
        self._retries: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run())

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        for task in [self._runner, *self._retries]:
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in [self._runner, *self._retries] if t), return_exceptions=True
        )

    async def follow(self, trace: TaskTrace) -> None:
        self.tasks[trace.task_id] = trace
        await self._join(trace)

    async def _join(self, trace: TaskTrace) -> None:
        ws = self._ws
        if ws is None or trace.task_id in self._joined or trace.terminal:
            return  # not connected (the next connection joins it), or joined already
        # Marked before the await: one join per task per connection, or its replay repeats.
        self._joined.add(trace.task_id)
        self._pending.append(trace.task_id)
        data = {"task_id": trace.task_id, "token": trace.token, "after_seq": trace.last_seq}
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(json.dumps({"event": "join_task", "data": data}))

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                await self._connection()
                attempt = 0
            except (OSError, TimeoutError, websockets.WebSocketException):
                attempt += 1
            finally:
                self._ws, self.url = None, None
                self.connected.clear()
            if self._closing:
                return
            await asyncio.sleep(retry_delay(attempt))

    async def _connection(self) -> None:
        # The first connection spreads the clients over the gateways; a reconnect picks any.
        first = self._connections == 0
        url = self.ws_urls[self.index % len(self.ws_urls)] if first else random.choice(self.ws_urls)
        async with websockets.connect(
            url, compression=None, max_queue=None, open_timeout=5, ping_interval=None
        ) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if hello.get("event") != "connected":
                raise websockets.InvalidMessage(f"unexpected first frame {hello}")
            self._ws, self.url = ws, url
            self._joined, self._pending = set(), deque()
            self.reconnects += self._connections > 0
            self._connections += 1
            self.connected.set()
            for trace in list(self.tasks.values()):
                await self._join(trace)
            async for frame in ws:
                self._on_event(json.loads(frame))

    def _on_event(self, event: Event) -> None:
        name, data = event.get("event"), event.get("data") or {}
        if name == "task_update":
            trace = self.tasks.get(data.get("task_id", ""))
            if trace is not None:
                trace.receive(data)
        elif name == "joined_task" and self._pending:
            self._pending.popleft()
        elif name == "error" and self._pending:
            # Joins are answered in order: this one failed (e.g. NATS away); try it again.
            task_id = self._pending.popleft()
            self._joined.discard(task_id)
            retry = asyncio.create_task(self._join_later(self.tasks[task_id]))
            self._retries.add(retry)
            retry.add_done_callback(self._retries.discard)

    async def _join_later(self, trace: TaskTrace) -> None:
        await asyncio.sleep(retry_delay(len(RETRY_DELAYS)))
        await self._join(trace)


@dataclass
class LoadCounts:
    accepted: int = 0
    unconfirmed_triggers: int = 0  # trigger attempts cut off after sending: maybe a task
    retries: int = 0


class Load:
    """Submits `tasks` tasks at `rate` per second on the stack's gateways; followers watch them.

    `on_other_gateway`: submit each task on a gateway other than the one its follower is
    connected to (where there are several), so every update crosses gateways.
    """

    def __init__(
        self,
        gateway_urls: Sequence[str],
        *,
        tasks: int,
        rate: float,
        sockets: int,
        tag: str,
        on_other_gateway: bool = False,
        options: dict[str, Any] | None = None,
        give_up_after: float = 600.0,
    ) -> None:
        self.gateway_urls = list(gateway_urls)
        ws_urls = [url.replace("http://", "ws://", 1) + "/ws" for url in self.gateway_urls]
        self.followers = [Follower(i, ws_urls) for i in range(sockets)]
        self.tasks = tasks
        self.rate = rate
        self.on_other_gateway = on_other_gateway
        self.options = options or {}
        self.give_up_after = give_up_after
        self.traces: dict[str, TaskTrace] = {}
        self.counts = LoadCounts()
        self.errors: list[str] = []
        self._images = [image_bytes((f"INVOICE {tag}", f"No {i:05d}")) for i in range(tasks)]
        self._progress = asyncio.Condition()
        self._submitted = False
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Load:
        connector = aiohttp.TCPConnector(limit=64)
        self._http = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=30)
        )
        for follower in self.followers:
            follower.start()
        await asyncio.wait_for(asyncio.gather(*(f.connected.wait() for f in self.followers)), 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(f.close() for f in self.followers))
        if self._http is not None:
            await self._http.close()

    async def accepted(self, count: int) -> None:
        """Until at least `count` tasks were accepted (or every submission is over)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.counts.accepted >= count or self._submitted)

    async def run(self) -> None:
        """Submit every task, paced (an open loop, as users arrive)."""
        started = time.monotonic()

        async def paced(index: int) -> None:
            await asyncio.sleep(max(started + index / self.rate - time.monotonic(), 0.0))
            try:
                await self._submit(index)
            except Exception as exc:  # counted: a task that never got a task_id
                self.errors.append(f"task {index}: {exc!r}")

        await asyncio.gather(*(paced(i) for i in range(self.tasks)))
        async with self._progress:
            self._submitted = True
            self._progress.notify_all()

    async def settled(self, timeout: float) -> bool:
        """Until every accepted task's client received `complete` or `error`; False on timeout."""
        try:
            await asyncio.wait_for(
                asyncio.gather(*(t.done.wait() for t in list(self.traces.values()))), timeout
            )
        except TimeoutError:
            return False
        return True

    def _gateway_for(self, follower: Follower, attempt: int) -> str:
        choices = self.gateway_urls
        if self.on_other_gateway and follower.url is not None and len(choices) > 1:
            own = follower.url.removeprefix("ws://").removesuffix("/ws")
            choices = [url for url in choices if not url.endswith(own)] or choices
        return choices[(attempt + random.randrange(len(choices))) % len(choices)]

    async def _submit(self, index: int) -> None:
        follower = self.followers[index % len(self.followers)]
        filename, content = f"drill-{index:05d}.png", self._images[index]
        blob = await self._retrying(follower, lambda url: self._upload(url, filename, content))
        body = {"blob_url": blob["blob_url"], "filename": blob["filename"], "options": self.options}
        sent: list[tuple[float, str]] = []

        async def trigger(url: str) -> Event:
            sent.append((time.time(), url))
            return await self._trigger(url, body)

        task = await self._retrying(follower, trigger)
        sent_at, via = sent[-1]
        trace = TaskTrace(task["task_id"], task["token"], sent_at, follower.index, via)
        trace.followed_via = follower.url
        self.traces[trace.task_id] = trace
        async with self._progress:
            self.counts.accepted += 1
            self._progress.notify_all()
        await follower.follow(trace)

    async def _retrying(self, follower: Follower, call: Callable[[str], Any]) -> Event:
        deadline = time.monotonic() + self.give_up_after
        attempt = 0
        while True:
            try:
                result: Event = await call(self._gateway_for(follower, attempt))
                return result
            except (aiohttp.ClientError, TimeoutError, _Retry):
                if time.monotonic() > deadline:
                    raise
            attempt += 1
            self.counts.retries += 1
            await asyncio.sleep(retry_delay(attempt))

    async def _upload(self, base_url: str, filename: str, content: bytes) -> Event:
        assert self._http is not None
        form = aiohttp.FormData()
        form.add_field("file", content, filename=filename, content_type="image/png")
        async with self._http.post(base_url + "/api/upload", data=form) as response:
            return await _answer(response, 201)

    async def _trigger(self, base_url: str, body: Event) -> Event:
        assert self._http is not None
        try:
            async with self._http.post(base_url + "/api/invoices/upload", json=body) as response:
                return await _answer(response, 202)
        except aiohttp.ClientConnectorError:
            raise  # never sent
        except (aiohttp.ClientError, TimeoutError):
            # Sent, but no answer: the gateway may have accepted a task nobody follows.
            self.counts.unconfirmed_triggers += 1
            raise


class _Retry(Exception):
    """A retryable answer (5xx)."""


async def _answer(response: aiohttp.ClientResponse, expected: int) -> Event:
    if response.status in RETRYABLE_STATUSES:
        raise _Retry(f"{response.status} {await response.text()}")
    if response.status != expected:
        raise SubmitError(f"{response.status} {await response.text()}")
    body: Event = await response.json()
    return body
