"""What a reader that never reads costs the gateway: `python -m bench.slow_readers`.

Starts nats-server and one gateway process, stores a 10 MB blob, then opens N raw sockets that
each send `GET /blobs/{id}` with a small receive buffer and never read a byte. Prints the
gateway's resident memory before, while they hang on, and after they have gone, and the cost
per reader. Sends only to loopback; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from deploy.embedded import EmbeddedNats, free_port

MIB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def settled_rss(pid: int, seconds: float) -> float:
    """Resident memory once it has stopped moving (1 MiB over 2 s), or after `seconds`."""
    deadline = time.monotonic() + seconds
    samples = [rss_mib(pid)]
    while time.monotonic() < deadline:
        time.sleep(0.5)
        samples.append(rss_mib(pid))
        if len(samples) >= 5 and max(samples[-5:]) - min(samples[-5:]) < 1:
            break
    return max(samples[-5:])


def wait_healthy(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the gateway did not become healthy")


def upload(url: str, size: int) -> str:
    body_file = b"%PDF-1.4\n" + os.urandom(size - 9)
    boundary = "benchboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + body_file
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url + "/api/upload",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        blob_id: str = json.load(answer)["blob_id"]
    # One whole read first, so what follows measures readers, not first-use allocations.
    with urllib.request.urlopen(f"{url}/blobs/{blob_id}", timeout=60) as answer:
        answer.read()
    return blob_id


def slow_readers(port: int, blob_id: str, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET /blobs/{blob_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        sockets.append(sock)
    return sockets


def measure(readers: int, size: int, hold: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        nats = EmbeddedNats(Path(tmp) / "nats", free_port()).start()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("INVOICEFLOW_")}
        env.update(
            NATS_URL=nats.url,
            INVOICEFLOW_HOST="127.0.0.1",
            INVOICEFLOW_PORT=str(port),
            INVOICEFLOW_API_KEYS="",
            INVOICEFLOW_LOG_LEVEL="WARNING",
            PYTHONPATH=str(REPO),
        )
        gateway = subprocess.Popen([sys.executable, "-m", "services.gateway"], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, 30)
            blob_id = upload(url, size)
            before = settled_rss(gateway.pid, 10)
            sockets = slow_readers(port, blob_id, readers)
            during = settled_rss(gateway.pid, hold)
            for sock in sockets:
                sock.close()
            after = settled_rss(gateway.pid, hold)
        finally:
            gateway.terminate()
            gateway.wait(30)
            nats.stop()
    return {
        "readers": readers,
        "blob_mib": round(size / MIB, 1),
        "rss_before_mib": round(before, 1),
        "rss_during_mib": round(during, 1),
        "rss_after_mib": round(after, 1),
        "per_reader_mib": round((during - before) / readers, 2),
        "held_after_mib": round(after - before, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=40)
    parser.add_argument("--size", type=int, default=10_000_000, help="blob bytes")
    parser.add_argument("--hold", type=float, default=20, help="seconds to wait for RSS to settle")
    args = parser.parse_args()
    print(json.dumps(measure(args.readers, args.size, args.hold)))


if __name__ == "__main__":
    main()
