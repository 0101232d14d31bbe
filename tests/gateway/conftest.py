"""Gateway fixtures: the app on the session's real nats-server, over ASGI or a real socket.

Workers are simulated by appending updates with `ProgressLog` on the same server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from nats.js import JetStreamContext
from websockets.asyncio.client import ClientConnection

from contracts import Stage, TaskUpdated, UpdateType
from services.gateway.app import create_app, server_config
from services.gateway.settings import GatewaySettings
from services.gateway.state import Gateway, gateway_of
from services.messaging.jetstream import declare_pipeline_streams
from services.messaging.progress_log import ProgressLog

ALLOWED_ORIGIN = "http://allowed.test"
PDF = b"%PDF-1.4\n%test document\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
TIMEOUT = 10.0

Frame = dict[str, Any]


def make_settings(nats_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "public_url": None,
        "cors_origins": (ALLOWED_ORIGIN,),
        "api_keys": {},
    }
    values.update(overrides)
    return GatewaySettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Running:
    """The app with its lifespan running, and an HTTP client over ASGI."""

    app: FastAPI
    http: httpx.AsyncClient

    @property
    def gateway(self) -> Gateway:
        return gateway_of(self.app)


@contextlib.asynccontextmanager
async def running(settings: GatewaySettings) -> AsyncIterator[Running]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # raise_app_exceptions=False: a 500 is answered like the server would, not raised here.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield Running(app, http)


@dataclass
class Served:
    """The app served by uvicorn in this process on a port of its own."""

    app: FastAPI
    base_url: str
    ws_url: str

    @property
    def gateway(self) -> Gateway:
        return gateway_of(self.app)


@contextlib.asynccontextmanager
async def served(settings: GatewaySettings) -> AsyncIterator[Served]:
    app = create_app(settings)
    # Bound and listening before uvicorn starts: clients may connect at once, the kernel queues
    # them until the server (after its lifespan) accepts. No port race, no waiting loop.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, settings, log_config=None, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield Served(app, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, TIMEOUT)
        sock.close()


class Ws:
    """A /ws client speaking the spec's frames."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Ws:
        connection = await websockets.connect(url, compression=None, open_timeout=TIMEOUT, **kwargs)
        return cls(connection)

    async def send(self, event: str, data: Any = None) -> None:
        await self.connection.send(
            json.dumps({"event": event, "data": {} if data is None else data})
        )

    async def recv(self, timeout: float = TIMEOUT) -> Frame:
        frame: Frame = json.loads(await asyncio.wait_for(self.connection.recv(), timeout))
        return frame

    async def expect(self, event: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        frame = await self.recv(timeout)
        assert frame["event"] == event, frame
        data: dict[str, Any] = frame["data"]
        return data

    async def updates(self, count: int) -> list[dict[str, Any]]:
        return [await self.expect("task_update") for _ in range(count)]

    async def until_terminal(self) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        while not received or received[-1]["type"] not in ("complete", "error"):
            received.append(await self.expect("task_update"))
        return received

    async def close(self) -> None:
        await self.connection.close()


def new_task_id() -> str:
    return f"task_{uuid.uuid4().hex}"


# The pipeline's updates in order, as the workers would append them.
STEPS: tuple[tuple[UpdateType, Stage, int, str], ...] = (
    (UpdateType.STAGE_START, Stage.FETCH, 5, "Fetching"),
    (UpdateType.STAGE_COMPLETE, Stage.FETCH, 10, "Fetched"),
    (UpdateType.STAGE_START, Stage.LLM_EXTRACTION, 10, "Extracting"),
    (UpdateType.STAGE_COMPLETE, Stage.LLM_EXTRACTION, 80, "Extracted"),
    (UpdateType.STAGE_START, Stage.VALIDATION, 80, "Validating"),
    (UpdateType.STAGE_COMPLETE, Stage.VALIDATION, 90, "Validated"),
)


async def append_steps(log: ProgressLog, count: int, start: int = 0) -> list[TaskUpdated]:
    """Append `STEPS[start:count]` (seq `start + 1` to `count`)."""
    stored: list[TaskUpdated] = []
    for type_, stage, progress, message in STEPS[start:count]:
        update = await log.append(type_, stage, progress, message)
        assert update is not None
        stored.append(update)
    return stored


async def append_progress(log: ProgressLog, steps: range) -> list[TaskUpdated]:
    """Many small `progress` updates (one per percent in `steps`, inside llm_extraction)."""
    stored = []
    for percent in steps:
        update = await log.append(UpdateType.PROGRESS, Stage.LLM_EXTRACTION, percent, f"{percent}%")
        assert update is not None
        stored.append(update)
    return stored


@pytest.fixture
async def streams(js: JetStreamContext) -> JetStreamContext:
    await declare_pipeline_streams(js, 24)
    return js


@pytest.fixture
def settings_for(nats_url: str) -> Callable[..., GatewaySettings]:
    def build(**overrides: Any) -> GatewaySettings:
        return make_settings(nats_url, **overrides)

    return build


@pytest.fixture
async def app(nats_url: str) -> AsyncIterator[Running]:
    async with running(make_settings(nats_url)) as started:
        yield started


@pytest.fixture
async def server(nats_url: str) -> AsyncIterator[Served]:
    async with served(make_settings(nats_url)) as started:
        yield started
