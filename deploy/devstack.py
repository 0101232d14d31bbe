"""`make dev`: real NATS (JetStream) and PostgreSQL under ./.data, the four services as
separate processes, the gateway on http://localhost:8000. Ctrl-C stops all of it.

With NATS_URL / DATABASE_URL set, those servers are used instead of the embedded ones.
`--nats-cluster 3` runs three nats-servers as one JetStream cluster instead of one, and the
services with NATS_URL listing all three and INVOICEFLOW_STREAM_REPLICAS=3 (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.embedded import EmbeddedNats, EmbeddedNatsCluster, EmbeddedPostgres
from deploy.processes import stop_processes

SERVICES = ("extractor", "validator", "persister", "gateway")


def spawn(service: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", f"services.{service}"], env=dict(env))


def wait_healthy(url: str, timeout: float, procs: Mapping[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout} s")


@dataclass
class DevStack:
    """The servers and service processes of one `make dev`, and how to stop them all."""

    env: dict[str, str]
    nats: EmbeddedNats | EmbeddedNatsCluster | None = None
    postgres: EmbeddedPostgres | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stopping: bool = False

    def start_servers(self, data: Path, nats_port: int, nats_cluster: int = 0) -> None:
        """Embedded NATS (one server, or a cluster of `nats_cluster`) and PostgreSQL, each
        unless the environment names one already."""
        if nats_cluster and "NATS_URL" in self.env:
            raise SystemExit("--nats-cluster starts its own servers: unset NATS_URL")
        if nats_cluster:
            self.nats = EmbeddedNatsCluster(
                data / "nats-cluster", nats_cluster, base_port=nats_port
            ).start()
            self.env["NATS_URL"] = self.nats.url
            self.env["INVOICEFLOW_STREAM_REPLICAS"] = str(nats_cluster)
            print(f"JetStream cluster of {nats_cluster} on {self.nats.url}, R{nats_cluster}")
        elif "NATS_URL" not in self.env:
            self.nats = EmbeddedNats(data / "nats", nats_port).start()
            self.env["NATS_URL"] = self.nats.url
            print(f"nats-server (JetStream) on {self.nats.url}, data in {self.nats.data_dir}")
        if "DATABASE_URL" not in self.env:
            self.postgres = EmbeddedPostgres(data / "postgres").start()
            self.env["DATABASE_URL"] = self.postgres.url
            print(f"PostgreSQL at {self.postgres.url}")

    def start_services(self) -> None:
        for service in SERVICES:
            self.procs[service] = spawn(service, self.env)

    def request_stop(self, signum: int, frame: object) -> None:
        """SIGTERM's handler: `supervise` returns, and `main` stops everything."""
        self.stopping = True

    def supervise(self) -> None:
        """Until a stop is requested: a service that exits is started again."""
        while not self.stopping:
            for name, proc in list(self.procs.items()):
                if proc.poll() is not None and not self.stopping:
                    print(f"{name} exited with {proc.returncode}; restarting it")
                    self.procs[name] = spawn(name, self.env)
            time.sleep(0.5)

    def stop(self) -> None:
        """The services first (all signalled, then each awaited), then the servers they use."""
        stop_processes(self.procs.values())
        if self.nats:
            self.nats.stop()
        if self.postgres:
            self.postgres.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path(".data"), help="embedded servers' data")
    parser.add_argument("--port", type=int, default=int(os.environ.get("INVOICEFLOW_PORT", "8000")))
    parser.add_argument("--nats-port", type=int, default=4222)
    # Odd sizes only: a Raft group of n survives (n - 1) // 2 lost nodes, so 4 is no better than 3.
    parser.add_argument(
        "--nats-cluster",
        type=int,
        choices=(3, 5),
        default=0,
        metavar="N",
        help="run N nats-servers as one JetStream cluster (3 or 5), streams with N replicas",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = dict(os.environ)
    env["INVOICEFLOW_PORT"] = str(args.port)
    env.setdefault("INVOICEFLOW_PUBLIC_URL", f"http://localhost:{args.port}")
    stack = DevStack(env)
    signal.signal(signal.SIGTERM, stack.request_stop)
    # Ctrl-C works even when started with SIGINT ignored (as `cmd &` in a script does).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        stack.start_servers(args.data, args.nats_port, args.nats_cluster)
        stack.start_services()
        wait_healthy(f"http://127.0.0.1:{args.port}/api/health", 60, stack.procs)
        print(f"\ninvoiceflow is up: http://localhost:{args.port}  (Ctrl-C stops everything)\n")
        stack.supervise()
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping invoiceflow…")
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
