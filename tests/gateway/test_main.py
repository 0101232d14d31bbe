"""`python -m services.gateway` serves the gateway on INVOICEFLOW_HOST:INVOICEFLOW_PORT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from deploy.embedded import free_port, wait_for_port
from services.gateway.app import create_app, server_config
from tests.gateway.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]


def test_server_config_turns_compression_off_and_bounds_shutdown() -> None:
    settings = make_settings("nats://127.0.0.1:1", host="127.0.0.1", port=8123)

    config = server_config(create_app(settings), settings)

    assert (config.host, config.port) == ("127.0.0.1", 8123)
    assert config.ws_per_message_deflate is False
    assert config.timeout_graceful_shutdown == 5.0


def test_the_module_runs_the_gateway(nats_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("INVOICEFLOW_") and key != "NATS_URL"
    }
    env.update(NATS_URL=nats_url, INVOICEFLOW_HOST="127.0.0.1", INVOICEFLOW_PORT=str(port))
    log = (tmp_path / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.gateway"], cwd=REPO, env=env, stdout=log, stderr=log
    )
    try:
        wait_for_port(port, timeout=30)
        response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10)
        assert response.status_code == 200, (tmp_path / "gateway.log").read_text()
        assert response.json()["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit says why.
        assert proc.wait(20) in (0, -signal.SIGTERM)
        log.close()
    assert "Application shutdown complete" in (tmp_path / "gateway.log").read_text()
