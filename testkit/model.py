"""The fake OpenAI-compatible model (tests/fakes/openai_server.py) as a process of its own, as the
benchmarks and drills run it: started by module name, so nothing here imports tests/."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from deploy.embedded import free_port, wait_for_port
from testkit.stack import REPO


@dataclass(frozen=True)
class FakeModel:
    url: str  # its /v1 base URL, for OPENAI_BASE_URL
    pid: int


@contextmanager
def fake_model(latency: float = 0.0) -> Iterator[FakeModel]:
    """Every answer waits `latency` seconds first."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(port),
         "--latency", str(latency)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=30)
        yield FakeModel(f"http://127.0.0.1:{port}/v1", proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
