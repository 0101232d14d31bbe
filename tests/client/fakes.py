"""Test doubles for the SDK: a scripted gateway over `httpx.MockTransport`, a scripted `/ws`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.server import ServerConnection, serve

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Recorder:
    """A MockTransport that records every request and answers with `handler`."""

    handler: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self.handler(request)

        return httpx.MockTransport(handle)


def error_body(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


def update(task_id: str, seq: int, total: int) -> dict[str, Any]:
    last = seq == total
    data: dict[str, Any] = {
        "type": "complete" if last else "progress",
        "task_id": task_id,
        "seq": seq,
        "progress": 100 if last else seq * 10,
        "stage": "complete" if last else "llm_extraction",
        "message": f"step {seq}",
        "timestamp": 1.0 * seq,
    }
    if last:
        data["result"] = {"invoice": {"total": "1.00"}, "saved": False}
    return data


@dataclass
class FakeGatewayWs:
    """`/ws` for one task of `total` updates. The first `drops` connections are cut abruptly
    after `cut_after` updates; joins are recorded (their `after_seq`)."""

    task_id: str
    token: str
    total: int
    cut_after: int = 2
    drops: int = 1
    joins: list[int] = field(default_factory=list)
    connections: int = 0

    async def handle(self, socket: ServerConnection) -> None:
        self.connections += 1
        drop = self.connections <= self.drops
        await socket.send(json.dumps({"event": "connected", "data": {"sid": "s"}}))
        frame = json.loads(await socket.recv())
        data = frame["data"]
        if data["token"] != self.token:
            await socket.send(
                json.dumps({"event": "error", "data": {"code": "invalid_token", "message": "no"}})
            )
            await socket.wait_closed()
            return
        after = int(data.get("after_seq", 0))
        self.joins.append(after)
        await socket.send(json.dumps({"event": "joined_task", "data": {"task_id": self.task_id}}))
        for seq in range(after + 1, self.total + 1):
            if drop and seq > self.cut_after:
                socket.transport.abort()  # a dropped link, no close frame
                return
            payload = {"event": "task_update", "data": update(self.task_id, seq, self.total)}
            await socket.send(json.dumps(payload))
        await socket.wait_closed()


@asynccontextmanager
async def serving(handler: Callable[[ServerConnection], Any]) -> AsyncIterator[str]:
    """Serve `handler` on a free local port; yields the matching http:// base URL."""
    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}"
        server.close()
        await asyncio.wait_for(server.wait_closed(), 5)
