"""`python -m services.gateway` serves the gateway on INVOICEFLOW_HOST:INVOICEFLOW_PORT."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import httpx
import pytest
import websockets

from deploy.embedded import EmbeddedNatsCluster, free_port, wait_for_port
from services.gateway.app import create_app, server_config
from services.messaging.outages import WAITING_MARK
from tests.gateway.conftest import make_settings
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def test_server_config_turns_compression_off_and_bounds_shutdown() -> None:
    settings = make_settings("nats://127.0.0.1:1", host="127.0.0.1", port=8123)

    config = server_config(create_app(settings), settings)

    assert (config.host, config.port) == ("127.0.0.1", 8123)
    assert config.ws_per_message_deflate is False
    assert config.timeout_graceful_shutdown == settings.drain_seconds == 5.0


def start_gateway(nats_url: str, port: int, log: IO[bytes], **more: str) -> subprocess.Popen[bytes]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("INVOICEFLOW_") and key != "NATS_URL"
    }
    env.update(NATS_URL=nats_url, INVOICEFLOW_HOST="127.0.0.1", INVOICEFLOW_PORT=str(port))
    env.update(more)
    return subprocess.Popen(
        [sys.executable, "-m", "services.gateway"], cwd=REPO, env=env, stdout=log, stderr=log
    )


def test_the_module_runs_the_gateway(nats_url: str, tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "gateway.log").open("wb")
    proc = start_gateway(nats_url, port, log)
    try:
        wait_for_port(port, timeout=30)
        response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10)
        assert response.status_code == 200, (tmp_path / "gateway.log").read_text()
        assert response.json()["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        # A requested stop is a clean exit (uvicorn alone would re-raise the signal).
        assert proc.wait(20) == 0
        log.close()
    assert "Application shutdown complete" in (tmp_path / "gateway.log").read_text()


async def test_sigterm_tells_sockets_to_reconnect_and_exits_0(
    nats_url: str, tmp_path: Path
) -> None:
    port = free_port()
    log = (tmp_path / "gateway.log").open("wb")
    proc = start_gateway(nats_url, port, log)
    try:
        wait_for_port(port, timeout=30)
        origin = f"http://127.0.0.1:{port}"
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws", origin=websockets.Origin(origin), compression=None
        ) as socket:
            assert json.loads(await socket.recv())["event"] == "connected"
            proc.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 20)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012  # restart
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


async def test_sigterm_while_waiting_for_jetstream_exits_0(tmp_path: Path) -> None:
    """One node of a three-node cluster: no meta leader, so JetStream answers nothing and the
    gateway waits to declare its streams; a stop meanwhile ends it at once."""
    cluster = EmbeddedNatsCluster(tmp_path / "cluster")
    cluster.nodes[0].start()
    log_path = tmp_path / "gateway.log"
    log = log_path.open("wb")
    proc = start_gateway(cluster.url, free_port(), log, INVOICEFLOW_STREAM_REPLICAS="3")
    try:

        async def waiting() -> bool:
            assert proc.poll() is None, log_path.read_text()
            return WAITING_MARK in log_path.read_text()

        await wait_until(waiting, timeout=60, interval=0.1)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 10) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        cluster.stop()
    assert "stopped while starting" in log_path.read_text()
