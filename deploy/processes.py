"""Stopping the services' processes, as `make dev` and the test stack both do."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterable


def stop_processes(procs: Iterable[subprocess.Popen[bytes]], grace_seconds: float = 20) -> None:
    """SIGTERM to every process still running, then wait for each; kill what outlives the grace."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
