"""The four services as separate processes, as `make dev` runs them, for e2e tests and benches."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.embedded import EmbeddedNats, free_port
from deploy.processes import stop_processes

SERVICES = ("extractor", "validator", "persister", "gateway")
REPO = Path(__file__).resolve().parents[1]


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

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

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
            env.update(self.service_envs.get(name, {}))
        return env

    def start_service(self, name: str) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            env=self.service_env(name),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        return proc

    def start(self, timeout: float = 90.0) -> Stack:
        for name in SERVICES:
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

    def kill(self, name: str) -> None:
        """SIGKILL: no graceful shutdown, unacked messages stay with JetStream."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        stop_processes(self.procs.values())

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


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
