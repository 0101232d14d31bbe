"""`python -m services.validator` runs until SIGTERM, drains, and exits 0 (as every worker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from deploy.embedded import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]


def test_a_worker_serves_its_probes_and_exits_0_on_sigterm(nats_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("INVOICEFLOW_") and key != "NATS_URL"
    }
    env.update(NATS_URL=nats_url, INVOICEFLOW_METRICS_PORT=str(port), INVOICEFLOW_LOG_FORMAT="json")
    log_path = tmp_path / "validator.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.validator"], cwd=REPO, env=env, stdout=log, stderr=log
        )
        try:
            wait_for_port(port, timeout=30)
            # The probes answer from the first moment; ready once it consumes.
            deadline = time.monotonic() + 30
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            while ready.json()["starting"] and time.monotonic() < deadline:
                time.sleep(0.05)
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            assert ready.status_code == 200, log_path.read_text()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    lines = log_path.read_text().splitlines()
    assert any('"service": "validator"' in line and "draining" in line for line in lines)
