"""The four services as separate processes, as `make dev` runs them, for e2e tests and benches.

Each service runs `replicas[service]` processes (1 unless named). The first replica is named as
its service (`extractor`), the others `extractor-2`, `extractor-3`, …; every method that takes
a name takes a replica's. Gateway replicas listen on ports of their own; worker replicas each
get their own INVOICEFLOW_METRICS_PORT, kept across restarts, so probes find them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.embedded import EmbeddedNats, free_port
from deploy.processes import stop_processes

SERVICES = ("extractor", "validator", "persister", "gateway")
WORKERS = ("extractor", "validator", "persister")
REPO = Path(__file__).resolve().parents[1]
# What `Worker.start` logs once it consumes: the readiness signal of a worker that serves no
# /readyz (older builds), at INFO.
READY_LOG_MARK = b" ready on "


def service_of(name: str) -> str:
    """The service a replica name belongs to: `extractor-2` -> `extractor`."""
    return name.partition("-")[0]


def replica_name(service: str, index: int) -> str:
    return service if index == 0 else f"{service}-{index + 1}"


@dataclass
class Stack:
    nats_url: str
    database_url: str
    log_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    # Per service, on top of `env` (e.g. each worker's INVOICEFLOW_METRICS_PORT).
    service_envs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Processes per service; a service not named runs one.
    replicas: Mapping[str, int] = field(default_factory=dict)
    # Per replica: a gateway's HTTP port, a worker's metrics port (assigned on first start).
    ports: dict[str, int] = field(default_factory=dict)
    # Where each replica's log stood when it was last started (readiness reads what follows).
    _log_marks: dict[str, int] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def replica_names(self, service: str | None = None) -> list[str]:
        services = SERVICES if service is None else (service,)
        return [
            replica_name(name, index)
            for name in services
            for index in range(self.replicas.get(name, 1))
        ]

    def replica_port(self, name: str) -> int:
        if name == "gateway":
            return self.port
        return self.ports.setdefault(name, free_port())

    @property
    def gateway_urls(self) -> list[str]:
        """Base URL of every gateway replica (the first is `base_url`)."""
        return [f"http://127.0.0.1:{self.replica_port(n)}" for n in self.replica_names("gateway")]

    def service_env(self, name: str | None = None) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("INVOICEFLOW_", "OPENAI_"))
        }
        env.update(
            NATS_URL=self.nats_url,
            DATABASE_URL=self.database_url,
            INVOICEFLOW_PORT=str(self.port),
            INVOICEFLOW_HOST="127.0.0.1",
            INVOICEFLOW_PUBLIC_URL=self.base_url,
            PYTHONPATH=str(REPO),
            # Any free port for /healthz, /readyz, /metrics: stacks and replicas share a host.
            INVOICEFLOW_METRICS_PORT="0",
        )
        env.update(self.env)
        if name is not None:
            service = service_of(name)
            env.update(self.service_envs.get(service, {}))
            # Every replica's own port; blob URLs keep naming the first gateway (one origin,
            # as behind a load balancer).
            if service == "gateway":
                env["INVOICEFLOW_PORT"] = str(self.replica_port(name))
            else:
                given = int(env["INVOICEFLOW_METRICS_PORT"])
                if given and len(self.replica_names(service)) == 1:
                    self.ports.setdefault(name, given)
                env["INVOICEFLOW_METRICS_PORT"] = str(self.replica_port(name))
        return env

    def start_service(self, name: str) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"{name}.log"
        log = path.open("ab")
        self._log_marks[name] = path.stat().st_size
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{service_of(name)}"],
            env=self.service_env(name),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        return proc

    def start(self, timeout: float = 90.0) -> Stack:
        for name in self.replica_names():
            self.start_service(name)
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.base_url}/api/health", timeout=1) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"gateway not healthy after {timeout} s:\n{self.tail('gateway')}")

    def ready(self, name: str) -> bool:
        """Whether a replica is ready: a gateway's /api/health answers 200; a worker's /readyz
        does, or (a build without probes) its log says it consumes since it was started."""
        if service_of(name) == "gateway":
            return _status(f"http://127.0.0.1:{self.replica_port(name)}/api/health") == 200
        status = _status(f"http://127.0.0.1:{self.replica_port(name)}/readyz")
        if status is not None:
            return status == 200
        path = self.log_dir / f"{name}.log"
        with path.open("rb") as log:
            log.seek(self._log_marks.get(name, 0))
            return READY_LOG_MARK in log.read()

    def wait_ready(self, names: list[str] | None = None, timeout: float = 90.0) -> None:
        """Until every named replica (default: all) is ready; a replica that exits fails it."""
        waiting = list(self.replica_names() if names is None else names)
        deadline = time.monotonic() + timeout
        while waiting:
            for name in waiting:
                if self.procs[name].poll() is not None:
                    code = self.procs[name].returncode
                    raise RuntimeError(f"{name} exited with {code}:\n{self.tail(name)}")
            waiting = [name for name in waiting if not self.ready(name)]
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout} s: {', '.join(waiting)}")
            if waiting:
                time.sleep(0.05)

    def kill(self, name: str) -> None:
        """SIGKILL: no graceful shutdown, unacked messages stay with JetStream."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def terminate(self, name: str, grace_seconds: float = 60.0) -> None:
        """SIGTERM and wait for the replica to exit (SIGKILL after the grace)."""
        stop_processes([self.procs[name]], grace_seconds)

    def restart(self, name: str, *, graceful: bool = True, timeout: float = 90.0) -> None:
        """Stop one replica (SIGTERM, or SIGKILL), start it again and wait until it is ready."""
        if graceful:
            self.terminate(name)
        else:
            self.kill(name)
        self.start_service(name)
        self.wait_ready([name], timeout)

    def stop(self) -> None:
        stop_processes(self.procs.values())

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _status(url: str) -> int | None:
    """The HTTP status a GET gets, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


class Stacks:
    """Stacks with a nats-server each, on one database, started on demand and stopped together."""

    def __init__(self, database_url: str, base: Path) -> None:
        self.database_url = database_url
        self.base = base
        self.running: list[tuple[Stack, EmbeddedNats]] = []

    def make(
        self,
        model_url: str,
        service_envs: Mapping[str, Mapping[str, str]] | None = None,
        **env: str,
    ) -> Stack:
        index = len(self.running)
        nats = EmbeddedNats(self.base / f"nats-{index}", free_port()).start()
        stack = Stack(
            nats_url=nats.url,
            database_url=self.database_url,
            log_dir=self.base / f"logs-{index}",
            env={"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": model_url, **env},
            service_envs=service_envs or {},
        )
        self.running.append((stack, nats))
        return stack.start()

    def stop(self) -> None:
        for stack, nats in self.running:
            stack.stop()
            nats.stop()
