"""Fault drills: a load of tasks through the public API while a fault is injected mid-run, then
what became of every task, counted from three sides: what its client received on /ws, what the
server says about it, and its rows in PostgreSQL.

    async with Rig(workdir, postgres, model.url, replicas=scenario.replicas) as rig:
        result = await run_drill(rig, scenario, DrillSettings(tasks=300))

A `Rig` is one scenario's world: a nats-server of its own, a database of its own on a
PostgreSQL the drills may stop and start (`DrillPostgres`), the services as processes
(testkit/stack.py, replicas per service) and the fake model. A `Scenario` is a coroutine that
injects faults through `Faults` (every step timed), waiting on the load's progress to land them
mid-run. `SCENARIOS` holds the named ones (`python -m bench.chaos`, tests/chaos/); a new one is
a function returning a `Scenario`, added there. Used by bench/chaos.py, bench/scaleout.py and
tests/chaos/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import shutil
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import asyncpg

from contracts.names import WORK_STREAM
from deploy.embedded import EmbeddedNats, EmbeddedNatsCluster, EmbeddedPostgres, free_port
from testkit.load import Load, TaskTrace
from testkit.stack import SERVICES, WORKERS, Stack

# Readiness of a worker without /readyz is read from its INFO log (testkit/stack.py).
DRILL_ENV = {"INVOICEFLOW_LOG_LEVEL": "INFO"}


class DrillPostgres:
    """PostgreSQL from pgserver that a drill may stop and start again: the same data directory,
    so the same Unix socket and URL, and what was committed is still there."""

    def __init__(self, data_dir: Path | None = None) -> None:
        # Not under pytest's temp folder by default: pytest resets it to 0700, which locks out
        # the user pgserver runs PostgreSQL as when we are root (tests/conftest.py).
        self._owned = None if data_dir else Path(tempfile.mkdtemp(prefix="invoiceflow-drill-pg-"))
        self.data_dir = data_dir or Path(str(self._owned)) / "data"
        self.server = EmbeddedPostgres(self.data_dir)
        self.url = ""

    def start(self) -> DrillPostgres:
        self.server.start()
        self.url = self.url or self.server.url
        return self

    def stop(self) -> None:
        self.server.stop()

    def close(self) -> None:
        """Stop for good; a data directory of its own making goes too."""
        self.stop()
        if self._owned is not None:
            shutil.rmtree(self._owned, ignore_errors=True)

    async def fresh_database(self) -> str:
        """A database of its own, so drills never count each other's rows."""
        name = f"drill_{uuid.uuid4().hex[:12]}"
        connection = await asyncpg.connect(self.url)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        base, _, query = self.url.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


class NatsServers(Protocol):
    """One nats-server or a JetStream cluster of them: what a rig starts, stops and connects to."""

    @property
    def url(self) -> str: ...

    @property
    def pids(self) -> list[int]: ...

    def start(self) -> object: ...

    def stop(self) -> None: ...


class Rig:
    """One run's servers and services: its own nats-server (or `nats_cluster` nodes of a
    JetStream cluster, every stream on all of them) and database, the stack."""

    def __init__(
        self,
        workdir: Path,
        postgres: DrillPostgres,
        model_url: str,
        *,
        replicas: Mapping[str, int] | None = None,
        env: Mapping[str, str] | None = None,
        service_envs: Mapping[str, Mapping[str, str]] | None = None,
        nats_cluster: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.postgres = postgres
        self.cluster = EmbeddedNatsCluster(workdir / "nats", nats_cluster) if nats_cluster else None
        self.nats: NatsServers = self.cluster or EmbeddedNats(workdir / "nats", free_port())
        self.model_url = model_url
        self.replicas = dict(replicas or {})
        replication = {"INVOICEFLOW_STREAM_REPLICAS": str(nats_cluster)} if nats_cluster else {}
        self.env = {**DRILL_ENV, **replication, **(env or {})}
        self.service_envs = dict(service_envs or {})
        self._stack: Stack | None = None

    @property
    def stack(self) -> Stack:
        if self._stack is None:
            raise RuntimeError("rig not started")
        return self._stack

    async def __aenter__(self) -> Rig:
        database_url = await self.postgres.fresh_database()
        await asyncio.to_thread(self.nats.start)
        self._stack = Stack(
            nats_url=self.nats.url,
            database_url=database_url,
            log_dir=self.workdir / "logs",
            env={"OPENAI_API_KEY": "drill", "OPENAI_BASE_URL": self.model_url, **self.env},
            service_envs=self.service_envs,
            replicas=self.replicas,
        )
        try:
            await asyncio.to_thread(self._start_stack)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    def _start_stack(self) -> None:
        self.stack.start()
        self.stack.wait_ready()

    async def __aexit__(self, *exc: object) -> None:
        if self._stack is not None:
            await asyncio.to_thread(self._stack.stop)
        await asyncio.to_thread(self.nats.stop)


@dataclass(frozen=True)
class DrillSettings:
    tasks: int = 300
    rate: float | None = None  # tasks submitted per second; None: the scenario's own pace
    sockets: int = 10
    # After the last submission and the last fault: how long every task has to end.
    deadline_seconds: float = 300.0
    # The first fault waits for this share of the tasks to be accepted (mid-run).
    fault_after: float = 0.25
    seed: int | None = None


@dataclass(frozen=True)
class FaultEvent:
    action: str
    started: float  # epoch seconds
    ended: float  # the fault cleared: the process ready again, the server back

    @property
    def seconds(self) -> float:
        return self.ended - self.started


class Faults:
    """What a scenario does to its rig, each step timed; waits on the load to land mid-run."""

    def __init__(self, rig: Rig, load: Load, settings: DrillSettings, rng: random.Random):
        self.rig = rig
        self.load = load
        self.settings = settings
        self.rng = rng
        self.events: list[FaultEvent] = []

    @property
    def stack(self) -> Stack:
        return self.rig.stack

    def share(self, index: int, count: int) -> float:
        """Where the index-th of `count` faults lands: spread from `fault_after` to 80 %."""
        first = self.settings.fault_after
        return first + (max(0.8 - first, 0.0) * index / max(count - 1, 1))

    async def when_accepted(self, share: float) -> None:
        await self.load.accepted(math.ceil(share * self.load.tasks))

    async def timed(self, action: str, step: Callable[[], Awaitable[None]]) -> None:
        started = time.time()
        await step()
        self.events.append(FaultEvent(action, started, time.time()))

    async def kill(self, name: str) -> None:
        """SIGKILL one replica, start it again at once and wait until it is ready."""

        async def step() -> None:
            await asyncio.to_thread(self.stack.restart, name, graceful=False)

        await self.timed(f"SIGKILL {name}", step)

    async def restart(self, name: str) -> None:
        """SIGTERM one replica, wait for it to exit, start it again, wait until it is ready."""

        async def step() -> None:
            await asyncio.to_thread(self.stack.restart, name, graceful=True)

        await self.timed(f"SIGTERM {name}", step)

    async def nats_outage(self, seconds: float) -> None:
        """Stop nats-server, wait `seconds` (the outage), start it on its port and data dir."""

        async def step() -> None:
            await asyncio.to_thread(self.rig.nats.stop)
            if seconds:
                await asyncio.sleep(seconds)  # the outage itself
            await asyncio.to_thread(self.rig.nats.start)

        await self.timed(f"nats-server down {seconds:g} s", step)

    async def nats_node_kill(self, down_seconds: float) -> None:
        """SIGKILL the cluster node that leads the work stream, keep it down `down_seconds`,
        start it again on its store and wait until every stream has its replicas current."""
        cluster = self.rig.cluster
        if cluster is None:
            raise ScenarioUnavailable("a node kill needs a JetStream cluster (--nats-cluster)")
        leader = await asyncio.to_thread(stream_leader, cluster, WORK_STREAM)

        async def step() -> None:
            await asyncio.to_thread(leader.kill)
            if down_seconds:
                await asyncio.sleep(down_seconds)  # the node is away
            await asyncio.to_thread(cluster.start_node, leader, 60.0)

        await self.timed(f"SIGKILL {leader.name} (leads {WORK_STREAM})", step)

    async def postgres_outage(self, seconds: float) -> None:
        """Stop PostgreSQL, wait `seconds`, start it again on the same data directory."""

        async def step() -> None:
            await asyncio.to_thread(self.rig.postgres.stop)
            await asyncio.sleep(seconds)  # the outage itself
            await asyncio.to_thread(self.rig.postgres.start)

        await self.timed(f"PostgreSQL down {seconds:g} s", step)


class ScenarioUnavailable(RuntimeError):
    """A scenario this setup cannot run (it says what it needs)."""


def stream_leader(cluster: EmbeddedNatsCluster, stream: str, timeout: float = 30.0) -> EmbeddedNats:
    """The node leading `stream`, as the running nodes' monitoring endpoints report it; asks
    again until one does (an election under way, a node too busy to answer in time)."""
    deadline = time.monotonic() + timeout
    while True:
        for node in cluster.nodes:
            if node.running and (leader := _reported_leader(node, stream)):
                return cluster.node(leader)
        if time.monotonic() > deadline:
            raise RuntimeError(f"no node reports a leader for {stream} after {timeout:g} s")
        time.sleep(0.1)  # polling the monitoring endpoint, not waiting on our own work


def _reported_leader(node: EmbeddedNats, stream: str) -> str | None:
    with contextlib.suppress(OSError, ValueError):
        with urllib.request.urlopen(f"{node.monitor_url}/jsz?streams=true", timeout=2) as r:
            jsz = json.load(r)
        for account in jsz.get("account_details", []):
            for detail in account.get("stream_detail", []):
                leader = detail.get("cluster", {}).get("leader")
                if detail.get("name") == stream and leader:
                    return str(leader)
    return None


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    inject: Callable[[Faults], Awaitable[None]]
    replicas: Mapping[str, int] = field(default_factory=dict)
    # A dependency goes away for a while: the target is that tasks wait, none fails.
    outage: bool = False
    rate: float = 25.0  # its pace of submissions: faults that take long want a longer run
    requires: str | None = None  # a command-line option it cannot run without


def seconds_label(seconds: float) -> str:
    return f"{seconds / 60:g}m" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g}s"


TWO_OF_EACH_WORKER = {name: 2 for name in WORKERS}


def worker_kill(kills: int = 6) -> Scenario:
    async def inject(faults: Faults) -> None:
        for index in range(kills):
            await faults.when_accepted(faults.share(index, kills))
            # Each worker service in turn (so the model calls in flight get hit too), a random
            # replica of it.
            service = WORKERS[index % len(WORKERS)]
            await faults.kill(faults.rng.choice(faults.stack.replica_names(service)))

    return Scenario(
        "worker-kill",
        f"SIGKILL a random replica of extractor, validator, persister in turn, {kills} kills "
        "(2 replicas of each), each restarted at once",
        inject,
        replicas=TWO_OF_EACH_WORKER,
    )


def gateway_kill(kills: int = 2) -> Scenario:
    async def inject(faults: Faults) -> None:
        for index in range(kills):
            await faults.when_accepted(faults.share(index, kills))
            await faults.kill(faults.rng.choice(faults.stack.replica_names("gateway")))

    return Scenario(
        "gateway-kill",
        f"SIGKILL the gateway {kills} times, restarted at once; clients reconnect and resume",
        inject,
    )


def nats_down(seconds: float = 0.0) -> Scenario:
    async def inject(faults: Faults) -> None:
        await faults.when_accepted(faults.settings.fault_after)
        await faults.nats_outage(seconds)

    if not seconds:
        return Scenario(
            "nats-restart", "stop nats-server and start it again at once", inject, outage=True
        )
    return Scenario(
        f"nats-down-{seconds_label(seconds)}",
        f"stop nats-server for {seconds:g} s, then start it on the same port and data dir",
        inject,
        outage=True,
        rate=10.0,
    )


def postgres_down(seconds: float = 120.0) -> Scenario:
    async def inject(faults: Faults) -> None:
        await faults.when_accepted(faults.settings.fault_after)
        await faults.postgres_outage(seconds)

    return Scenario(
        f"postgres-down-{seconds_label(seconds)}",
        f"stop PostgreSQL for {seconds:g} s, then start it again with the same data dir",
        inject,
        outage=True,
        rate=10.0,
    )


def rolling_restart(services: Sequence[str] = SERVICES) -> Scenario:
    async def inject(faults: Faults) -> None:
        await faults.when_accepted(faults.settings.fault_after)
        for service in services:
            for name in faults.stack.replica_names(service):
                await faults.restart(name)

    return Scenario(
        "rolling-restart" if tuple(services) == SERVICES else "rolling-restart-workers",
        f"SIGTERM, restart and wait ready: each replica of {', '.join(services)} in turn (2 each)",
        inject,
        replicas={name: 2 for name in services},
        rate=5.0,
    )


def cluster_node_kill(kills: int = 2, down_seconds: float = 10.0) -> Scenario:
    async def inject(faults: Faults) -> None:
        for index in range(kills):
            await faults.when_accepted(faults.share(index, kills))
            await faults.nats_node_kill(down_seconds)

    return Scenario(
        "cluster-node-kill",
        f"SIGKILL the node leading the work stream of a three-node JetStream cluster (R3), "
        f"{kills} times, each down {down_seconds:g} s and started again",
        inject,
        outage=True,
        rate=10.0,
        requires="--nats-cluster",
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        worker_kill(),
        gateway_kill(),
        nats_down(0),
        nats_down(30),
        postgres_down(120),
        rolling_restart(),
        cluster_node_kill(),
    )
}


@dataclass
class DrillResult:
    scenario: str
    summary: str
    tasks: int
    rate: float
    replicas: dict[str, int]
    submitted: int  # accepted (202) by a gateway
    submit_errors: int  # never accepted within the deadline
    unconfirmed_triggers: int  # cut off after sending: a task may exist nobody follows
    completed: int  # its client received `complete`
    failed: dict[str, int]  # by error code
    stuck: int  # not ended on the server at the deadline
    undelivered: int  # ended on the server, but its client never received the end
    rows: dict[str, int]  # tasks with 0, 1 and more than 1 saved invoice rows
    completed_without_row: int
    failed_with_row: int
    lost: int  # stuck, or completed without its row
    duplicated: int  # more than one row
    gaps: int  # seqs a client never received, below the highest it did
    doubles: int  # seqs a client received twice
    reconnects: int
    faults: list[FaultEvent]
    # From a fault's end to the first `complete` a client received after it (worst fault);
    # None: no task completed after any fault.
    recovery_seconds: float | None
    # From a fault's end until every task in flight when it began was delivered its end;
    # None: one never was.
    settle_seconds: float | None
    max_first_update_wait: float  # accepted -> first update, worst task (server time)
    max_silence: float  # longest time any task went without an update
    wall_seconds: float
    errors: list[str]

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["faults"] = [{**asdict(f), "seconds": f.seconds} for f in self.faults]
        return data


async def run_drill(rig: Rig, scenario: Scenario, settings: DrillSettings) -> DrillResult:
    """Submit the load, inject the scenario's faults mid-run, wait for every task to end."""
    rng = random.Random(settings.seed)
    rate = settings.rate or scenario.rate
    async with Load(
        rig.stack.gateway_urls,
        tasks=settings.tasks,
        rate=rate,
        sockets=settings.sockets,
        tag=f"{scenario.name} {uuid.uuid4().hex[:8]}",
        give_up_after=settings.deadline_seconds,
    ) as load:
        faults = Faults(rig, load, settings, rng)
        started = time.time()
        await _together(load.run(), scenario.inject(faults))
        await load.settled(settings.deadline_seconds)
        wall = time.time() - started
        ended_on_server = await _server_outcomes(load, _unsettled(load.traces.values()))
    rows = await _rows_per_task(rig.stack.database_url, list(load.traces))
    return _result(
        scenario,
        settings,
        rate=rate,
        rig=rig,
        load=load,
        events=faults.events,
        ended_on_server=ended_on_server,
        rows=rows,
        wall=wall,
    )


async def _together(*steps: Awaitable[None]) -> None:
    """Run the steps at once; the first to fail cancels the others and is raised."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _unsettled(traces: Iterable[TaskTrace]) -> list[TaskTrace]:
    return [trace for trace in traces if trace.terminal is None]


async def _server_outcomes(load: Load, traces: list[TaskTrace]) -> dict[str, dict[str, Any]]:
    """For tasks whose client never saw an end: the status the server gives (or nothing)."""
    outcomes: dict[str, dict[str, Any]] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        for trace in traces:
            url = f"{load.gateway_urls[0]}/api/invoices/status/{trace.task_id}"
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url, params={"token": trace.token}) as response:
                    if response.status == 200:
                        outcomes[trace.task_id] = await response.json()
    return outcomes


async def _rows_per_task(database_url: str, task_ids: list[str]) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        found = await connection.fetch(
            "SELECT task_id, count(*) AS n FROM invoices WHERE task_id = ANY($1::text[])"
            " GROUP BY task_id",
            task_ids,
        )
    finally:
        await connection.close()
    return {str(row["task_id"]): int(row["n"]) for row in found}


def _result(
    scenario: Scenario,
    settings: DrillSettings,
    *,
    rate: float,
    rig: Rig,
    load: Load,
    events: list[FaultEvent],
    ended_on_server: dict[str, dict[str, Any]],
    rows: dict[str, int],
    wall: float,
) -> DrillResult:
    traces = list(load.traces.values())
    outcome = _outcomes(traces, ended_on_server)
    per_task = [rows.get(t.task_id, 0) for t in traces]
    completed = [t for t in traces if outcome[t.task_id] == "complete"]
    failed = [t for t in traces if outcome[t.task_id] not in ("complete", "stuck")]
    completed_without_row = sum(1 for t in completed if not rows.get(t.task_id))
    stuck = sum(1 for t in traces if outcome[t.task_id] == "stuck")
    waits = [w for t in traces if (w := t.first_update_wait()) is not None]
    return DrillResult(
        scenario=scenario.name,
        summary=scenario.summary,
        tasks=settings.tasks,
        rate=rate,
        replicas={name: len(rig.stack.replica_names(name)) for name in SERVICES},
        submitted=len(traces),
        submit_errors=len(load.errors),
        unconfirmed_triggers=load.counts.unconfirmed_triggers,
        completed=len(completed),
        failed=dict(Counter(outcome[t.task_id] for t in failed)),
        stuck=stuck,
        undelivered=sum(1 for t in traces if t.terminal is None) - stuck,
        rows={
            "0": per_task.count(0),
            "1": per_task.count(1),
            ">1": sum(1 for n in per_task if n > 1),
        },
        completed_without_row=completed_without_row,
        failed_with_row=sum(1 for t in failed if rows.get(t.task_id)),
        lost=stuck + completed_without_row,
        duplicated=sum(1 for n in per_task if n > 1),
        gaps=sum(t.gaps for t in traces),
        doubles=sum(t.doubles for t in traces),
        reconnects=sum(f.reconnects for f in load.followers),
        faults=events,
        recovery_seconds=max(
            (r for e in events if (r := _recovery(traces, e)) is not None), default=None
        ),
        settle_seconds=_worst(_settle(traces, e) for e in events),
        max_first_update_wait=max(waits, default=0.0),
        max_silence=max((t.longest_silence() for t in traces), default=0.0),
        wall_seconds=wall,
        errors=load.errors[:20],
    )


def _outcomes(
    traces: list[TaskTrace], ended_on_server: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """Per task: "complete", an error code, or "stuck" (the server has not ended it either)."""
    outcome: dict[str, str] = {}
    for trace in traces:
        if trace.terminal == "complete":
            outcome[trace.task_id] = "complete"
        elif trace.terminal == "error":
            outcome[trace.task_id] = trace.error_code or "unknown"
        else:
            outcome[trace.task_id] = _server_outcome(ended_on_server.get(trace.task_id))
    return outcome


def _server_outcome(status: dict[str, Any] | None) -> str:
    if status is None:
        return "stuck"
    if status.get("status") == "completed":
        return "complete"
    if status.get("status") == "error":
        return str((status.get("error") or {}).get("code", "unknown"))
    return "stuck"


def _worst(values: Iterable[float | None]) -> float | None:
    """The largest value; None (never recovered) wins over any number."""
    result: float | None = 0.0
    for value in values:
        if value is None:
            return None
        result = max(result or 0.0, value)
    return result


def _recovery(traces: list[TaskTrace], event: FaultEvent) -> float | None:
    """None: no task completed after the fault (none was left, or every one failed)."""
    ends = [
        at
        for t in traces
        if t.terminal == "complete" and (at := t.terminal_received_at) and at >= event.ended
    ]
    return (min(ends) - event.ended) if ends else None


def _settle(traces: list[TaskTrace], event: FaultEvent) -> float | None:
    in_flight = [
        t
        for t in traces
        if t.accepted_at < event.started
        and ((at := t.terminal_received_at) is None or at > event.started)
    ]
    ends = [t.terminal_received_at for t in in_flight]
    if any(at is None for at in ends):
        return None
    # Tasks that ended (failed) while the fault lasted count as settled at its end.
    return max((max(at - event.ended, 0.0) for at in ends if at is not None), default=0.0)
