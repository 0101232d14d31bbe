"""Sockets: what an idle or a following /ws socket costs the gateway, and how fast live updates
reach sockets that join in a burst.

Starts real nats-server (JetStream) and PostgreSQL, the fake OpenAI-compatible model and the
four services as processes (testkit `Stack`), as bench/pipeline.py does. The socket clients run
in `--clients` processes of their own (multiprocessing, each on uvloop), their connections
spread over the source addresses 127.0.0.2, 127.0.0.3, … (one ephemeral port range each); the
file-descriptor limit is raised for the bench and so for the stack it starts (children inherit
it). The clients speak WebSocket through bench/light_ws.py (a protocol that stamps a frame's
arrival where its bytes are read, at a fraction of a library client's CPU: the load
generator shares the machine it measures); `--client websockets` uses the `websockets`
library's client instead. Two workloads:

  memory   T = N / 10 tasks are submitted through the API with a model that answers only
           after 10 minutes (every task stays running: the extractor holds them all), then N
           idle sockets are opened on one gateway (default 10,000), then each socket joins one
           of the T tasks (10 sockets per task). The gateway process's
           VmRSS (/proc/PID/status) and PSS (/proc/PID/smaps_rollup) are read before the
           sockets, with them idle, and with them following: KiB per socket.
  fanout   `--idle` idle sockets first (spread over the gateways), then T tasks (default 100)
           submitted at once through the public API (upload, trigger; round robin over the
           gateways), with a model latency (default 1.5 s) so that they are running, and right
           after each trigger returns S sockets (default 10) connect and join the task, as a
           frontend does: 1,000 sockets joining in a burst. Socket j of task i connects to
           gateway (i + j) mod G, so with two gateways half of them follow a task submitted on
           the other one. For every `task_update` frame: delay = arrival at the client (client
           clock) - the update's `timestamp` (server clock, taken just before it is stored;
           one host, one clock). `--preopened`: the burst's sockets connect before the
           submissions and only join after each trigger (a page that keeps its socket open).
           `--repeat N`: N bursts on one stack, each reported.

A frame is *live* when its `timestamp` is at or after the moment its socket sent `join_task`:
the update was stored after the join, so it must be pushed within milliseconds. A frame whose
update was stored before the join is a *replay* (the stored history): it is reported apart,
as join → arrival. Figures: p50/p90/p99/max of the live delays, frames over 250 ms, replays,
gaps/doubles/unfinished sockets, and the CPU of every process (stack, model, clients) in the
measured window, and how late the clients' event loops woke a 5 ms timer, so a reader can
tell whether the clients kept up.

    python -m bench.sockets                          # memory at 10,000 + fanout 100 x 10
    python -m bench.sockets --only memory --sockets 10000
    python -m bench.sockets --only fanout --tasks 100 --per-task 10
    python -m bench.sockets --only fanout --idle 10000
    python -m bench.sockets --only fanout --gateways 2
    python -m bench.sockets --only fanout --repeat 3 --preopened

Figures: docs/benchmarks.md ("Sockets"). JSON: bench/results/sockets-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection

from bench import light_ws
from bench.pipeline import (
    BENCH_CLIENT,
    cpu_used,
    machine,
    nats_pids,
    percentile,
    receipt_image,
    stack_cpu_seconds,
)
from deploy.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from services.process import run
from services.telemetry.metrics import PUBLISH_TO_SOCKET as PUBLISH_TO_SOCKET_METRIC
from testkit.model import fake_model
from testkit.stack import Stack

RESULTS = Path(__file__).resolve().parent / "results"
PUBLISH_TO_SOCKET = next(iter(PUBLISH_TO_SOCKET_METRIC.describe())).name
LIGHT = "light"  # the clients' WebSocket: bench/light_ws.py (else the `websockets` library)
SLOW_SECONDS = 0.250  # a live frame later than this misses the max target
TERMINAL = ("complete", "error")
KIB = 1024
# The memory workload's model: slower than the whole measurement, so every task stays running.
MEMORY_MODEL_LATENCY = 600.0


# --- pure helpers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Delays:
    count: int
    p50: float
    p90: float
    p99: float
    max: float
    over_250ms: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Delays:
        return cls(
            count=len(values),
            p50=percentile(list(values), 0.50),
            p90=percentile(list(values), 0.90),
            p99=percentile(list(values), 0.99),
            max=max(values, default=float("nan")),
            over_250ms=sum(1 for v in values if v > SLOW_SECONDS),
        )

    def line(self) -> str:
        return (
            f"{self.count} frames: p50 {self.p50 * 1000:.1f} ms, p90 {self.p90 * 1000:.1f} ms, "
            f"p99 {self.p99 * 1000:.1f} ms, max {self.max * 1000:.1f} ms, "
            f"{self.over_250ms} over 250 ms"
        )


@dataclass
class SocketRecord:
    """One burst socket: the task it followed and every task_update it received."""

    task_id: str
    gateway: str  # the ws URL it was connected to
    submitted_on: str  # the gateway URL the task was submitted on
    join_sent: float  # epoch seconds, client clock
    joined_at: float | None = None
    updates: list[tuple[int, float, float, str]] = field(default_factory=list)
    # (seq, the update's timestamp, arrival, type)
    error: str | None = None

    @property
    def finished(self) -> bool:
        return any(kind in TERMINAL for *_, kind in self.updates)

    def take(self, event: dict[str, Any], arrival: float) -> bool:
        """Record one frame; False once nothing more will come (terminal update, error)."""
        name, body = event.get("event"), event.get("data") or {}
        if name == "task_update":
            kind = str(body["type"])
            self.updates.append((int(body["seq"]), float(body["timestamp"]), arrival, kind))
            return kind not in TERMINAL
        if name == "joined_task":
            self.joined_at = arrival
        elif name == "error":
            self.error = str(body)
            return False
        return True


class BenchSocket(Protocol):
    """A client socket as the bench uses it (bench.light_ws's, or websockets' wrapped)."""

    async def send(self, text: str) -> None: ...

    async def recv(self) -> str: ...

    def stamped(self) -> AsyncIterator[tuple[str, float]]: ...

    async def close(self) -> None: ...


class WebsocketsSocket:
    """The `websockets` library's client as a `BenchSocket`: arrival is when `recv` returns."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws

    async def send(self, text: str) -> None:
        await self._ws.send(text)

    async def recv(self) -> str:
        return str(await self._ws.recv())

    async def stamped(self) -> AsyncIterator[tuple[str, float]]:
        async for raw in self._ws:
            yield str(raw), time.time()

    async def close(self) -> None:
        await self._ws.close()


@dataclass
class _Burst:
    """One client process's part of a burst."""

    gateways: list[str]
    per_task: int
    timeout: float
    records: list[SocketRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sockets: list[BenchSocket] = field(default_factory=list)
    preopened: dict[int, list[BenchSocket]] = field(default_factory=dict)

    def urls(self, task: int) -> list[str]:
        """Socket j of task i connects to gateway (i + j) mod G."""
        gateways = self.gateways
        return [ws_url(gateways[(task + j) % len(gateways)]) for j in range(self.per_task)]


@dataclass(frozen=True)
class Split:
    live: list[float]  # arrival - timestamp of frames stored after the join was sent
    replayed: list[float]  # arrival - join_sent of frames stored before it
    # Of the live frames over 250 ms: how long after the join their update was stored (a race
    # between the join and the update shows as a few milliseconds here).
    slow_stored_after_join: list[float]
    gaps: int  # seqs below a socket's highest that it never received
    doubles: int  # seqs a socket received twice
    unfinished: int  # sockets that never received complete/error (or failed)


def split_frames(records: Sequence[SocketRecord]) -> Split:
    """Live and replayed frames, as defined in the module's doc, and the sockets' faults."""
    live: list[float] = []
    replayed: list[float] = []
    slow: list[float] = []
    gaps = doubles = unfinished = 0
    for record in records:
        seen: set[int] = set()
        for seq, stamp, arrival, _ in record.updates:
            if seq in seen:
                doubles += 1
                continue
            seen.add(seq)
            if stamp >= record.join_sent:
                live.append(max(arrival - stamp, 0.0))
                if arrival - stamp > SLOW_SECONDS:
                    slow.append(stamp - record.join_sent)
            else:
                replayed.append(max(arrival - record.join_sent, 0.0))
        gaps += max(seen, default=0) - len(seen)
        unfinished += not record.finished or record.error is not None
    return Split(live, replayed, slow, gaps, doubles, unfinished)


def kib_per_socket(before_kib: int, after_kib: int, sockets: int) -> float:
    return (after_kib - before_kib) / sockets if sockets else float("nan")


def parse_kib(text: str, key: str) -> int:
    """`key:   1234 kB` in a /proc status or smaps_rollup text, in KiB."""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return int(value.split()[0])
    raise KeyError(key)


def deal(count: int, hands: int) -> list[int]:
    """How many of `count` items each of `hands` gets, round robin (the first get the rest)."""
    return [count // hands + (1 if i < count % hands else 0) for i in range(hands)]


def metric_value(text: str, sample: str) -> float | None:
    """The value of one sample (`name{labels}` as exposed) in a Prometheus text page."""
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return None


def histogram_buckets(text: str, name: str) -> dict[float, float]:
    """A Prometheus histogram's cumulative bucket counts by upper bound (`le`), from its text
    page; `+Inf` included."""
    buckets: dict[float, float] = {}
    prefix = name + '_bucket{le="'
    for line in text.splitlines():
        if line.startswith(prefix):
            bound, _, value = line[len(prefix) :].partition('"} ')
            buckets[float(bound)] = float(value)
    return buckets


@dataclass(frozen=True)
class AtGateways:
    """Live updates as the gateways' subscriptions got them, timed from the update's timestamp
    (`invoiceflow_publish_to_socket_seconds`, observed before the fan-out): the part of the
    delay that is spent before any socket is written."""

    updates: int
    over_50_ms: int
    over_100_ms: int

    @classmethod
    def between(cls, before: dict[float, float], after: dict[float, float]) -> AtGateways:
        def count(bound: float) -> int:
            return round(after.get(bound, 0.0) - before.get(bound, 0.0))

        total = count(float("inf"))
        return cls(total, total - count(0.05), total - count(0.1))

    def line(self) -> str:
        if not self.updates:
            return "no updates"
        return (
            f"{self.updates} updates, {self.over_50_ms / self.updates:.1%} already over 50 ms, "
            f"{self.over_100_ms / self.updates:.1%} over 100 ms"
        )


async def delays_at_gateways(urls: Sequence[str]) -> dict[float, float]:
    """The publish-to-socket histograms of all the gateways, added up."""
    total: Counter[float] = Counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for url in urls:
            async with http.get(url + "/metrics") as response:
                total.update(histogram_buckets(await response.text(), PUBLISH_TO_SOCKET))
    return dict(total)


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/ws"


# --- the gateway's memory -----------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    rss_kib: int
    pss_kib: int


def memory_of(pid: int) -> Memory:
    status = Path(f"/proc/{pid}/status").read_text()
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return Memory(parse_kib(status, "VmRSS"), parse_kib(rollup, "Pss"))


def raise_nofile(wanted: int = 65_536) -> int:
    """Raise this process's open-file limit (root may raise the hard limit too); children
    started afterwards inherit it. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in (max(wanted, hard), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(wanted, limit)), limit))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- the client processes -----------------------------------------------------------------


class Client:
    """The sockets of one client process: idle ones, and the bursts' ones."""

    def __init__(self, index: int, sources: Sequence[str], library: str) -> None:
        self.index = index
        self.sources = list(sources)
        self.library = library
        self.idle: list[BenchSocket] = []
        self._opened = 0

    async def connect(self, url: str) -> BenchSocket:
        """A /ws connection from the next source address, past its `connected` frame."""
        source = self.sources[(self._opened + self.index) % len(self.sources)]
        self._opened += 1
        ws: BenchSocket
        if self.library == LIGHT:
            ws = await light_ws.connect(url, local_addr=(source, 0), open_timeout=120)
        else:
            ws = WebsocketsSocket(
                await websockets.connect(
                    url,
                    compression=None,
                    max_queue=None,  # never stop reading: a frame's arrival is when it came
                    ping_interval=None,
                    open_timeout=120,
                    close_timeout=5,
                    local_addr=(source, 0),
                )
            )
        hello = json.loads(await ws.recv())
        if hello.get("event") != "connected":
            raise RuntimeError(f"unexpected first frame {hello}")
        return ws

    async def open_idle(self, urls: list[str], count: int, concurrency: int) -> dict[str, Any]:
        """Open `count` idle sockets, round robin over `urls`, `concurrency` handshakes at once."""
        gate = asyncio.Semaphore(concurrency)
        errors: list[str] = []
        start = len(self.idle)

        async def one(i: int) -> None:
            async with gate:
                try:
                    self.idle.append(await self.connect(urls[(start + i) % len(urls)]))
                except Exception as exc:
                    errors.append(repr(exc))

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return {
            "opened": len(self.idle) - start,
            "failed": len(errors),
            "error": errors[0] if errors else None,
            "seconds": time.perf_counter() - started,
        }

    async def follow(self, tasks: list[tuple[str, str]], concurrency: int) -> dict[str, Any]:
        """Idle socket k joins tasks[k] (task_id, token); until each has its `joined_task`."""
        gate = asyncio.Semaphore(concurrency)
        errors: list[str] = []
        replayed = 0

        async def one(ws: BenchSocket, task_id: str, token: str) -> None:
            nonlocal replayed
            async with gate:
                data = {"task_id": task_id, "token": token}
                await ws.send(json.dumps({"event": "join_task", "data": data}))
                while True:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if event["event"] == "joined_task":
                        return
                    if event["event"] == "error":
                        errors.append(str(event["data"]))
                        return
                    replayed += event["event"] == "task_update"

        started = time.perf_counter()
        await asyncio.gather(
            *(one(ws, task, token) for ws, (task, token) in zip(self.idle, tasks, strict=False))
        )
        return {
            "joined": min(len(self.idle), len(tasks)) - len(errors),
            "failed": len(errors),
            "error": errors[0] if errors else None,
            "seconds": time.perf_counter() - started,
        }

    async def burst(
        self,
        gateways: list[str],
        tasks: list[int],
        per_task: int,
        start_at: float,
        *,
        timeout: float,
        preopened: bool = False,
    ) -> dict[str, Any]:
        """Submit each task (task i on gateway i mod G), and as soon as its trigger returns open
        `per_task` sockets (socket j on gateway (i + j) mod G) that join it; until every socket
        has its task's `complete` or `error` (or `timeout`). `preopened`: the sockets are
        connected before the start and only join after the trigger (a page that keeps one
        socket open)."""
        images = {i: receipt_image(i) for i in tasks}
        state = _Burst(gateways, per_task, timeout)
        if preopened:
            for i in tasks:
                state.preopened[i] = [await self.connect(url) for url in state.urls(i)]
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        ) as http:
            await asyncio.sleep(max(start_at - time.time(), 0.0))  # one start for all processes
            lags: list[float] = []
            probe = asyncio.create_task(loop_lag(lags))
            started = time.perf_counter()
            await asyncio.gather(*(self._submit(state, http, i, images[i]) for i in tasks))
            seconds = time.perf_counter() - started
            probe.cancel()
        for ws in state.sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        return {
            # Plain data across the pipe: the bench's own module may be `__main__`.
            "records": [asdict(r) for r in state.records],
            "errors": state.errors,
            "seconds": seconds,
            "loop_lag": lags,
        }

    async def _submit(
        self, state: _Burst, http: aiohttp.ClientSession, i: int, image: bytes
    ) -> None:
        base = state.gateways[i % len(state.gateways)]
        try:
            form = aiohttp.FormData()
            form.add_field("file", image, filename=f"socket-{i}.png", content_type="image/png")
            async with http.post(base + "/api/upload", data=form) as uploaded:
                uploaded.raise_for_status()
                blob = await uploaded.json()
            body = {"blob_url": blob["blob_url"], "filename": blob["filename"]}
            async with http.post(base + "/api/invoices/upload", json=body) as triggered:
                triggered.raise_for_status()
                task = await triggered.json()
        except Exception as exc:
            state.errors.append(f"submit {i}: {exc!r}")
            return
        ready: list[BenchSocket | None] = [*state.preopened.get(i, [])]
        ready += [None] * (state.per_task - len(ready))
        await asyncio.gather(
            *(
                self._watch(state, url, base, task, ws)
                for url, ws in zip(state.urls(i), ready, strict=True)
            )
        )

    async def _watch(
        self,
        state: _Burst,
        url: str,
        submitted_on: str,
        task: dict[str, Any],
        ws: BenchSocket | None,
    ) -> None:
        if ws is None:
            try:
                ws = await self.connect(url)
            except Exception as exc:
                state.errors.append(f"connect: {exc!r}")
                return
        state.sockets.append(ws)
        data = {"task_id": task["task_id"], "token": task["token"]}
        record = SocketRecord(task["task_id"], url, submitted_on, time.time())
        state.records.append(record)
        await ws.send(json.dumps({"event": "join_task", "data": data}))
        try:
            async with asyncio.timeout(state.timeout):
                async for raw, arrival in ws.stamped():
                    if not record.take(json.loads(raw), arrival):
                        return
        except Exception as exc:
            record.error = repr(exc)

    async def close(self) -> dict[str, Any]:
        for ws in self.idle:
            with contextlib.suppress(Exception):
                await ws.close()
        closed = len(self.idle)
        self.idle.clear()
        return {"closed": closed}


async def loop_lag(lags: list[float], period: float = 0.005) -> None:
    """How late this process's event loop wakes a `period` timer, until cancelled: a late
    loop stamps frames late, so a client that cannot keep up shows here."""
    while True:
        due = time.perf_counter() + period
        await asyncio.sleep(period)  # a probe timer, not a wait on work
        lags.append(max(time.perf_counter() - due, 0.0))


def client_process(conn: Connection, index: int, sources: list[str], library: str) -> None:
    """A client process's main: commands (`method`, kwargs) from the bench, answers back."""
    raise_nofile()
    run(_serve(conn, Client(index, sources, library)))


async def _serve(conn: Connection, client: Client) -> None:
    loop = asyncio.get_running_loop()
    commands: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
        "open_idle": client.open_idle,
        "follow": client.follow,
        "burst": client.burst,
        "close": client.close,
    }
    while True:
        name, kwargs = await loop.run_in_executor(None, conn.recv)
        if name == "stop":
            conn.send(await client.close())
            return
        try:
            conn.send(await commands[name](**kwargs))
        except Exception as exc:  # reported to the bench, which fails the run
            conn.send({"failed": repr(exc)})


class Clients:
    """The client processes, driven from the bench's event loop."""

    def __init__(self, count: int, source_addresses: int, library: str) -> None:
        sources = [f"127.0.0.{2 + i}" for i in range(source_addresses)]
        context = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for index in range(count):
            ours, theirs = context.Pipe()
            proc = context.Process(
                target=client_process, args=(theirs, index, sources, library), daemon=True
            )
            proc.start()
            self.conns.append(ours)
            self.procs.append(proc)

    @property
    def pids(self) -> dict[str, int]:
        return {f"(client {i + 1})": proc.pid for i, proc in enumerate(self.procs)}

    async def call(self, name: str, kwargs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """`name` on every process at once, each with its own kwargs; their answers."""
        for conn, each in zip(self.conns, kwargs, strict=True):
            conn.send((name, each))
        answers = [await asyncio.to_thread(conn.recv) for conn in self.conns]
        for answer in answers:
            if "failed" in answer and isinstance(answer["failed"], str):
                raise RuntimeError(f"client {name} failed: {answer['failed']}")
        return answers

    async def open_idle(self, urls: list[str], count: int, concurrency: int = 64) -> int:
        answers = await self.call(
            "open_idle",
            [
                {"urls": urls, "count": n, "concurrency": concurrency}
                for n in deal(count, len(self))
            ],
        )
        failed = sum(a["failed"] for a in answers)
        if failed:
            errors = [a["error"] for a in answers if a["error"]]
            raise RuntimeError(f"{failed} idle sockets failed to open, e.g. {errors[0]}")
        return sum(int(a["opened"]) for a in answers)

    def __len__(self) -> int:
        return len(self.procs)

    async def stop(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(("stop", {}))
        for conn in self.conns:
            with contextlib.suppress(EOFError, OSError):
                await asyncio.to_thread(conn.recv)
        for proc in self.procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()


# --- the stack ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def started_stack(
    postgres: EmbeddedPostgres, workdir: Path, *, latency: float, gateways: int, held: int
) -> Any:
    """A stack with its own nats-server; the extractor takes up to `held` tasks at once."""
    nats = EmbeddedNats(workdir / "nats", free_port()).start()
    try:
        with fake_model(latency) as model:
            stack = Stack(
                nats_url=nats.url,
                database_url=postgres.url,
                log_dir=workdir / "logs",
                replicas={"gateway": gateways},
                env={
                    "OPENAI_API_KEY": "bench",
                    "OPENAI_BASE_URL": model.url,
                    "INVOICEFLOW_LOG_LEVEL": "WARNING",
                },
                service_envs={
                    "extractor": {
                        "INVOICEFLOW_MAX_IN_FLIGHT": str(held),
                        "INVOICEFLOW_OPENAI_MAX_CONCURRENCY": str(held),
                        "INVOICEFLOW_OPENAI_TIMEOUT_SECONDS": str(max(latency * 2, 60.0)),
                    }
                },
            ).start()
            try:
                stack.wait_ready()
                pids = {name: p.pid for name, p in stack.procs.items()}
                pids |= nats_pids(nats) | {"postgres": postgres.pid, "(model)": model.pid}
                yield stack, pids
            finally:
                # Workers may hold model calls for minutes: no graceful drain for a bench.
                for name in stack.procs:
                    with contextlib.suppress(Exception):
                        stack.kill(name)
    finally:
        nats.stop()


async def submit_tasks(base_url: str, count: int, tag: str) -> list[tuple[str, str]]:
    """`count` tasks through the public API; their (task_id, token)."""
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(
        base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as http:

        async def one(i: int) -> tuple[str, str]:
            form = aiohttp.FormData()
            image = receipt_image(i)
            form.add_field("file", image, filename=f"{tag}-{i}.png", content_type="image/png")
            async with http.post("/api/upload", data=form) as uploaded:
                uploaded.raise_for_status()
                blob = await uploaded.json()
            body = {"blob_url": blob["blob_url"], "filename": blob["filename"]}
            async with http.post("/api/invoices/upload", json=body) as triggered:
                triggered.raise_for_status()
                task = await triggered.json()
            return str(task["task_id"]), str(task["token"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def gateway_view(base_url: str, tasks: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """What the gateway says: its open /ws sockets (metrics) and the tasks' statuses."""
    statuses: Counter[str] = Counter()
    async with aiohttp.ClientSession(base_url, timeout=aiohttp.ClientTimeout(total=60)) as http:
        async with http.get("/metrics") as response:
            page = await response.text()
        for task_id, token in tasks:
            url = f"/api/invoices/status/{task_id}"
            async with http.get(url, params={"token": token}) as response:
                statuses[str((await response.json()).get("status"))] += 1
    return {
        "sockets_open": metric_value(page, 'invoiceflow_sockets_open{transport="ws"}'),
        "statuses": dict(statuses),
    }


# --- the workloads ---------------------------------------------------------------------------


@dataclass
class MemoryFigures:
    sockets: int
    tasks: int
    before: Memory
    idle: Memory
    following: Memory
    idle_rss_kib_per_socket: float
    idle_pss_kib_per_socket: float
    following_rss_kib_per_socket: float  # over the gateway without sockets
    following_pss_kib_per_socket: float
    open_seconds: float
    join_seconds: float
    gateway_said: dict[str, Any]  # after the last reading: sockets open, the tasks' statuses


async def memory(
    args: argparse.Namespace, postgres: EmbeddedPostgres, workdir: Path
) -> MemoryFigures:
    sockets = args.sockets
    tasks = max(sockets // args.per_task, 1)
    async with started_stack(
        postgres, workdir / "memory", latency=MEMORY_MODEL_LATENCY, gateways=1, held=tasks
    ) as (stack, _):
        clients = Clients(args.clients, args.source_addresses, args.client)
        try:
            gateway = stack.procs["gateway"].pid
            urls = [ws_url(stack.base_url)]
            # Warm-up: every code path of a socket and a join once before the baseline.
            warm = await submit_tasks(stack.base_url, len(clients), "warm")
            await clients.open_idle(urls, len(clients))
            await clients.call("follow", [{"tasks": [t], "concurrency": 1} for t in warm])
            await clients.call("close", [{}] * len(clients))
            followed = await submit_tasks(stack.base_url, tasks, "memory")
            await asyncio.sleep(10)  # the extractor takes them all; memory settles
            before = memory_of(gateway)
            print(f"  gateway before: {before}", flush=True)
            started = time.perf_counter()
            opened = await clients.open_idle(urls, sockets, args.concurrency)
            open_seconds = time.perf_counter() - started
            await asyncio.sleep(3)
            idle = memory_of(gateway)
            print(f"  {opened} idle sockets open in {open_seconds:.1f} s: {idle}", flush=True)
            # Global socket g (process g mod P, its k-th) follows task g mod T.
            per_process = deal(sockets, len(clients))
            plans = [
                [followed[(p + k * len(clients)) % tasks] for k in range(per_process[p])]
                for p in range(len(clients))
            ]
            started = time.perf_counter()
            answers = await clients.call(
                "follow", [{"tasks": plan, "concurrency": args.concurrency} for plan in plans]
            )
            join_seconds = time.perf_counter() - started
            joined = sum(a["joined"] for a in answers)
            if joined != sockets:
                errors = [a["error"] for a in answers if a["error"]]
                raise RuntimeError(f"{sockets - joined} joins failed, e.g. {errors[:1]}")
            await asyncio.sleep(3)
            following = memory_of(gateway)
            print(f"  {joined} sockets following in {join_seconds:.1f} s: {following}", flush=True)
            said = await gateway_view(stack.base_url, followed)
        finally:
            await clients.stop()
    return MemoryFigures(
        sockets=sockets,
        tasks=tasks,
        before=before,
        idle=idle,
        following=following,
        idle_rss_kib_per_socket=kib_per_socket(before.rss_kib, idle.rss_kib, sockets),
        idle_pss_kib_per_socket=kib_per_socket(before.pss_kib, idle.pss_kib, sockets),
        following_rss_kib_per_socket=kib_per_socket(before.rss_kib, following.rss_kib, sockets),
        following_pss_kib_per_socket=kib_per_socket(before.pss_kib, following.pss_kib, sockets),
        open_seconds=open_seconds,
        join_seconds=join_seconds,
        gateway_said=said,
    )


@dataclass
class FanoutFigures:
    tasks: int
    per_task: int
    sockets: int
    idle: int
    gateways: int
    preopened: bool
    model_latency: float
    wall_seconds: float
    live: Delays
    replayed: Delays  # join sent -> arrival
    live_same_gateway: Delays  # sockets on the gateway the task was submitted on
    live_other_gateway: Delays
    slow_stored_after_join: Delays  # live frames over 250 ms: update stored this long after join
    at_gateways: AtGateways
    gaps: int
    doubles: int
    unfinished: int
    errors: list[str]
    cpu_seconds_by_process: dict[str, float]
    client_cpu_share: float  # the client processes' CPU / (wall x their number)
    client_loop_lag: Delays  # how late the clients' loops woke a 5 ms timer


async def fanout(
    args: argparse.Namespace, postgres: EmbeddedPostgres, workdir: Path
) -> list[FanoutFigures]:
    name = f"fanout-g{args.gateways}-i{args.idle}"
    async with started_stack(
        postgres,
        workdir / name,
        latency=args.latency,
        gateways=args.gateways,
        held=max(args.tasks, 16),
    ) as (stack, stack_pids):
        clients = Clients(args.clients, args.source_addresses, args.client)
        try:
            gateways = stack.gateway_urls
            if args.idle:
                started = time.perf_counter()
                opened = await clients.open_idle(
                    [ws_url(url) for url in gateways], args.idle, args.concurrency
                )
                print(f"  {opened} idle sockets open in {time.perf_counter() - started:.1f} s")
            # Warm-up: one task per process through the whole path, on every gateway.
            await burst(clients, gateways, len(clients) * len(gateways), 2, args.latency)
            pids = stack_pids | clients.pids | {BENCH_CLIENT: os.getpid()}
            runs: list[FanoutFigures] = []
            for _ in range(args.repeat):
                await asyncio.sleep(2)  # the previous burst's sockets are closed
                cpu_before = stack_cpu_seconds(pids)
                heard_before = await delays_at_gateways(gateways)
                result = await burst(
                    clients,
                    gateways,
                    args.tasks,
                    args.per_task,
                    args.latency,
                    preopened=args.preopened,
                )
                cpu = cpu_used(cpu_before, stack_cpu_seconds(pids))
                heard = AtGateways.between(heard_before, await delays_at_gateways(gateways))
                runs.append(fanout_figures(args, result, cpu, len(clients), heard))
                print_fanout(runs[-1])
        finally:
            await clients.stop()
    return runs


def fanout_figures(
    args: argparse.Namespace,
    result: Burst,
    cpu: dict[str, float],
    clients: int,
    at_gateways: AtGateways,
) -> FanoutFigures:
    records, wall = result.records, result.wall_seconds
    split = split_frames(records)
    same = split_frames([r for r in records if ws_url(r.submitted_on) == r.gateway])
    other = split_frames([r for r in records if ws_url(r.submitted_on) != r.gateway])
    client_cpu = sum(v for k, v in cpu.items() if k.startswith("(client"))
    return FanoutFigures(
        tasks=args.tasks,
        per_task=args.per_task,
        sockets=len(records),
        idle=args.idle,
        gateways=args.gateways,
        preopened=args.preopened,
        model_latency=args.latency,
        wall_seconds=wall,
        live=Delays.of(split.live),
        replayed=Delays.of(split.replayed),
        live_same_gateway=Delays.of(same.live),
        live_other_gateway=Delays.of(other.live),
        slow_stored_after_join=Delays.of(split.slow_stored_after_join),
        at_gateways=at_gateways,
        gaps=split.gaps,
        doubles=split.doubles,
        unfinished=split.unfinished + (args.tasks * args.per_task - len(records)),
        errors=result.errors[:10],
        cpu_seconds_by_process=cpu,
        client_cpu_share=client_cpu / (wall * clients) if wall else 0.0,
        client_loop_lag=Delays.of(result.loop_lags),
    )


@dataclass(frozen=True)
class Burst:
    records: list[SocketRecord]
    errors: list[str]
    loop_lags: list[float]  # the client processes' event-loop lags meanwhile
    wall_seconds: float  # first submission to the last socket done


async def burst(
    clients: Clients,
    gateways: list[str],
    tasks: int,
    per_task: int,
    latency: float,
    *,
    preopened: bool = False,
) -> Burst:
    """Tasks dealt round robin to the client processes, one start time for all; the sockets'
    records, errors, the clients' loop lags and the burst's wall time (first submission to
    the last socket done)."""
    # One start for every process; sockets opened beforehand need their time first.
    start_at = time.time() + 0.5 + (tasks * per_task / len(clients) / 200 if preopened else 0)
    answers = await clients.call(
        "burst",
        [
            {
                "gateways": gateways,
                "tasks": list(range(p, tasks, len(clients))),
                "per_task": per_task,
                "start_at": start_at,
                "timeout": latency + 60.0,
                "preopened": preopened,
            }
            for p in range(len(clients))
        ],
    )
    records = [SocketRecord(**r) for a in answers for r in a["records"]]
    errors = [e for a in answers for e in a["errors"]]
    lags = [lag for a in answers for lag in a["loop_lag"]]
    return Burst(records, errors, lags, max(float(a["seconds"]) for a in answers))


# --- report ----------------------------------------------------------------------------------


def print_memory(m: MemoryFigures) -> None:
    print(
        f"memory: {m.sockets} sockets on one gateway, {m.tasks} running tasks\n"
        f"  gateway VmRSS {m.before.rss_kib / KIB:.0f} MiB -> idle {m.idle.rss_kib / KIB:.0f} MiB"
        f" -> following {m.following.rss_kib / KIB:.0f} MiB; PSS {m.before.pss_kib / KIB:.0f} -> "
        f"{m.idle.pss_kib / KIB:.0f} -> {m.following.pss_kib / KIB:.0f} MiB\n"
        f"  idle: {m.idle_rss_kib_per_socket:.1f} KiB/socket RSS "
        f"({m.idle_pss_kib_per_socket:.1f} PSS); following a running task: "
        f"{m.following_rss_kib_per_socket:.1f} KiB/socket RSS "
        f"({m.following_pss_kib_per_socket:.1f} PSS); opened in {m.open_seconds:.1f} s, "
        f"joined in {m.join_seconds:.1f} s\n"
        f"  then the gateway said: {m.gateway_said['sockets_open']} /ws sockets open; "
        f"the followed tasks: {m.gateway_said['statuses']}"
    )


def print_fanout(f: FanoutFigures) -> None:
    print(
        f"fanout: {f.tasks} tasks x {f.per_task} sockets "
        f"{'(open before) ' if f.preopened else ''}joining in a burst, {f.idle} idle, "
        f"{f.gateways} gateway(s), model {f.model_latency:g} s: {f.sockets} sockets, "
        f"done in {f.wall_seconds:.2f} s\n"
        f"  live publish -> socket: {f.live.line()}\n"
        f"  live publish -> the gateways' subscription: {f.at_gateways.line()}\n"
        f"  replayed (join -> arrival): {f.replayed.line()}"
    )
    if f.gateways > 1:
        print(f"  live, same gateway: {f.live_same_gateway.line()}")
        print(f"  live, other gateway: {f.live_other_gateway.line()}")
    slow = f.slow_stored_after_join
    if slow.count:
        print(
            f"  the {slow.count} live frames over 250 ms were stored after their socket's join "
            f"by p50 {slow.p50 * 1000:.1f} ms, max {slow.max * 1000:.1f} ms"
        )
    print(f"  gaps {f.gaps}, doubles {f.doubles}, unfinished sockets {f.unfinished}")
    for error in f.errors[:3]:
        print(f"  error: {error}")
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in sorted(f.cpu_seconds_by_process.items()))
    lag = f.client_loop_lag
    print(
        f"  CPU s: {cpu}; clients busy {f.client_cpu_share:.0%} of their wall time each, "
        f"their loops late by p99 {lag.p99 * 1000:.1f} ms, max {lag.max * 1000:.1f} ms"
    )


async def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    postgres = EmbeddedPostgres(workdir / "postgres").start()
    try:
        if args.only in (None, "memory"):
            results["memory"] = await memory(args, postgres, workdir)
            print_memory(results["memory"])
        if args.only in (None, "fanout"):
            results["fanout"] = await fanout(args, postgres, workdir)
    finally:
        postgres.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=("memory", "fanout"))
    parser.add_argument(
        "--sockets", type=int, default=10_000, help="memory: sockets on one gateway"
    )
    parser.add_argument("--tasks", type=int, default=100, help="fanout: tasks submitted at once")
    parser.add_argument(
        "--per-task", type=int, default=10, help="sockets joining each task (both workloads)"
    )
    parser.add_argument("--idle", type=int, default=0, help="fanout: idle sockets open meanwhile")
    parser.add_argument("--gateways", type=int, default=1, help="fanout: gateway replicas")
    parser.add_argument("--latency", type=float, default=1.5, help="fanout: model seconds")
    parser.add_argument(
        "--preopened",
        action="store_true",
        help="fanout: burst sockets connect before the submissions and only join after",
    )
    parser.add_argument("--repeat", type=int, default=1, help="fanout: bursts on one stack")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument(
        "--client",
        choices=(LIGHT, "websockets"),
        default=LIGHT,
        help="the clients' WebSocket library: bench.light_ws (default) or websockets'",
    )
    parser.add_argument(
        "--source-addresses", type=int, default=8, help="client addresses 127.0.0.2, …"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="handshakes at once/process")
    args = parser.parse_args(argv)
    limit = raise_nofile()
    needed = max(args.sockets, args.idle + args.tasks * args.per_task) + 1000
    if limit < needed:
        parser.error(f"the open-file limit is {limit}; {needed} needed")
    with tempfile.TemporaryDirectory(prefix="invoiceflow-sockets-") as tmp:
        results = run(measure(args, Path(tmp)))
    print(f"machine: {machine()}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"sockets-{time.strftime('%Y%m%dT%H%M%S')}.json"
    data = {
        "machine": machine(),
        "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
        "args": vars(args),
        "memory": asdict(results["memory"]) if "memory" in results else None,
        "fanout": [asdict(figures) for figures in results.get("fanout", [])],
    }
    out.write_text(json.dumps(data, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
