"""Whether this replica is alive and ready, and the small HTTP server workers answer it on.

`Health` holds the replica's state: the dependencies it finds down, whether it is still
starting and whether it is draining. `/readyz` is 200 only once started, while every
dependency it needs answers and while it is not draining; `/healthz` is 200 while the process
runs its event loop; `/metrics` is Prometheus' text format. The gateway serves the same three
paths from its own app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.telemetry.metrics import DEPENDENCY_UP, DRAINING

log = logging.getLogger(__name__)

_MAX_REQUEST_BYTES = 8 * 1024
_READ_TIMEOUT_SECONDS = 5.0


class Health:
    def __init__(self, dependencies: tuple[str, ...], *, starting: bool = False) -> None:
        self.dependencies = dependencies
        self._down: dict[str, str] = {}
        self._up_again: dict[str, asyncio.Event] = {}
        self.draining = False
        # Not ready until `started()`: a worker waits for JetStream before it consumes.
        self.starting = starting
        for name in dependencies:
            DEPENDENCY_UP.labels(name).set(1)

    def down(self, dependency: str, reason: str) -> None:
        if dependency not in self._down:
            log.warning("%s is unavailable (%s): work waits until it is back", dependency, reason)
            DEPENDENCY_UP.labels(dependency).set(0)
        self._down[dependency] = reason
        self._up_again.setdefault(dependency, asyncio.Event()).clear()

    def up(self, dependency: str) -> None:
        if self._down.pop(dependency, None) is not None:
            log.info("%s is available again", dependency)
            DEPENDENCY_UP.labels(dependency).set(1)
        event = self._up_again.get(dependency)
        if event is not None:
            event.set()

    def is_up(self, dependency: str) -> bool:
        return dependency not in self._down

    async def wait_up(self, dependency: str, timeout: float) -> None:
        """Until `dependency` is seen up again (by a probe or other work), at most `timeout`."""
        event = self._up_again.setdefault(dependency, asyncio.Event())
        if self.is_up(dependency):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def started(self) -> None:
        self.starting = False

    def drain(self) -> None:
        self.draining = True
        DRAINING.set(1)

    @property
    def ready(self) -> bool:
        return not (self.starting or self.draining or self._down)

    def readiness(self) -> dict[str, object]:
        """What `/readyz` answers: the verdict and why."""
        return {
            "ready": self.ready,
            "starting": self.starting,
            "draining": self.draining,
            "down": dict(self._down),
        }


Route = Callable[[], tuple[int, str, bytes]]


def health_routes(health: Health, alive: Callable[[], bool] = lambda: True) -> dict[str, Route]:
    def healthz() -> tuple[int, str, bytes]:
        ok = alive()
        return (200 if ok else 503), "application/json", json.dumps({"alive": ok}).encode()

    def readyz() -> tuple[int, str, bytes]:
        body = json.dumps(health.readiness()).encode()
        return (200 if health.ready else 503), "application/json", body

    def metrics() -> tuple[int, str, bytes]:
        return 200, CONTENT_TYPE_LATEST, generate_latest()

    return {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}


class HealthServer:
    """GET-only HTTP/1.1 on one port, one request per connection: enough for probes and
    Prometheus, without a web framework in every worker."""

    def __init__(self, routes: dict[str, Route], host: str = "0.0.0.0", port: int = 0) -> None:
        self._routes = routes
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("health server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_SECONDS)
            status, content_type, body = self._answer(head[:_MAX_REQUEST_BYTES])
            writer.write(
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a probe that hung up or sent nonsense
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _answer(self, head: bytes) -> tuple[int, str, bytes]:
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3 or parts[0] != b"GET":
            return _error(405, "method_not_allowed", "only GET is served here")
        path = parts[1].split(b"?", 1)[0].decode("latin-1")
        route = self._routes.get(path)
        if route is None:
            return _error(404, "not_found", "this port serves /healthz, /readyz and /metrics")
        return route()


def _error(status: int, code: str, message: str) -> tuple[int, str, bytes]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return status, "application/json", body
