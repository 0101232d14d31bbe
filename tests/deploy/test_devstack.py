"""`make dev`'s stack: starts healthy on embedded servers, and one SIGINT stops every process;
`--nats-cluster 3` runs a three-node JetStream cluster for R3 streams."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nats
import psutil
import pytest

from deploy.devstack import DevStack, parse_args
from deploy.embedded import free_port
from services.messaging.jetstream import declare_pipeline_streams
from services.messaging.settings import NatsSettings


def wait_for_health(url: str, proc: subprocess.Popen[bytes], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the dev stack exited during start-up (see devstack.log)"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return dict(json.load(response))
        except OSError:
            time.sleep(0.2)  # polling a port that is not open yet; nothing to wait on instead
    raise TimeoutError(f"{url} not healthy after {timeout} s")


@pytest.mark.timeout(180)
def test_starts_on_embedded_servers_and_one_sigint_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    # SIGINT ignored on start, as a script's `make dev &` has it: Ctrl-C must still work.
    command = (
        f'trap "" INT; exec "{sys.executable}" -m deploy.devstack --data "{tmp_path / "data"}"'
        f" --port {port} --nats-port {free_port()}"
    )
    log = (tmp_path / "devstack.log").open("wb")
    proc = subprocess.Popen(["sh", "-c", command], env=env, stdout=log, stderr=subprocess.STDOUT)
    children: list[psutil.Process] = []
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}/api/health", proc, timeout=120)
        assert health["status"] == "ok"
        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(child.cmdline()) for child in children)
        for part in ("nats-server", *(f"services.{s}" for s in (
            "gateway", "extractor", "validator", "persister"))):  # fmt: skip
            assert part in names
        # PostgreSQL runs detached (pg_ctl), not as a child: found by its pid file.
        pid_file = tmp_path / "data" / "postgres" / "postmaster.pid"
        postgres = psutil.Process(int(pid_file.read_text().split()[0]))
        children.append(postgres)

        proc.send_signal(signal.SIGINT)

        assert proc.wait(60) == 0
        _, alive = psutil.wait_procs(children, timeout=30)
        assert alive == []
    finally:
        for leftover in [psutil.Process(proc.pid), *children] if proc.poll() is None else children:
            if leftover.is_running():
                leftover.kill()


async def test_nats_cluster_runs_three_servers_and_has_the_services_use_r3(tmp_path: Path) -> None:
    stack = DevStack({"DATABASE_URL": "postgresql://elsewhere/db"})
    try:
        stack.start_servers(tmp_path / "data", free_port(), nats_cluster=3)
        servers = NatsSettings(nats_url=stack.env["NATS_URL"]).nats_servers
        assert len(servers) == 3
        assert stack.env["INVOICEFLOW_STREAM_REPLICAS"] == "3"
        client = await nats.connect(servers)
        try:
            await declare_pipeline_streams(client.jetstream(), 24, replicas=3)
        finally:
            await client.close()
    finally:
        stack.stop()


def test_nats_cluster_sizes_are_odd() -> None:
    assert parse_args(["--nats-cluster", "3"]).nats_cluster == 3
    assert parse_args([]).nats_cluster == 0
    with pytest.raises(SystemExit):
        parse_args(["--nats-cluster", "2"])
