"""`make dev`: real NATS (JetStream) and PostgreSQL under ./.data, the four services as
separate processes, the gateway on http://localhost:8000. Ctrl-C stops all of it.

With NATS_URL / DATABASE_URL set, those servers are used instead of the embedded ones.
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
from pathlib import Path

from deploy.embedded import EmbeddedNats, EmbeddedPostgres

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path(".data"), help="embedded servers' data")
    parser.add_argument("--port", type=int, default=int(os.environ.get("INVOICEFLOW_PORT", "8000")))
    parser.add_argument("--nats-port", type=int, default=4222)
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env["INVOICEFLOW_PORT"] = str(args.port)
    env.setdefault("INVOICEFLOW_PUBLIC_URL", f"http://localhost:{args.port}")
    nats: EmbeddedNats | None = None
    postgres: EmbeddedPostgres | None = None
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    # Ctrl-C works even when started with SIGINT ignored (as `cmd &` in a script does).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if "NATS_URL" not in env:
            nats = EmbeddedNats(args.data / "nats", args.nats_port).start()
            env["NATS_URL"] = nats.url
            print(f"nats-server (JetStream) on {nats.url}, data in {nats.data_dir}")
        if "DATABASE_URL" not in env:
            postgres = EmbeddedPostgres(args.data / "postgres").start()
            env["DATABASE_URL"] = postgres.url
            print(f"PostgreSQL at {postgres.url}")
        for service in SERVICES:
            procs[service] = spawn(service, env)
        wait_healthy(f"http://127.0.0.1:{args.port}/api/health", 60, procs)
        print(f"\ninvoiceflow is up: http://localhost:{args.port}  (Ctrl-C stops everything)\n")
        while not stopping:
            for name, proc in list(procs.items()):
                if proc.poll() is not None and not stopping:
                    print(f"{name} exited with {proc.returncode}; restarting it")
                    procs[name] = spawn(name, env)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping invoiceflow…")
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if nats:
            nats.stop()
        if postgres:
            postgres.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
