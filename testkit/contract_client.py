"""A client written only from the public contract: HTTP for uploads, /ws for progress."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

Event = dict[str, Any]
TERMINAL = ("complete", "error")


@dataclass
class Socket:
    """One /ws connection; events are sorted into per-task queues as they arrive."""

    connection: ClientConnection
    sid: str
    updates: dict[str, asyncio.Queue[Event]] = field(default_factory=dict)
    others: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> Socket:
        connection = await websockets.connect(url, compression=None, **kwargs)
        hello = json.loads(await asyncio.wait_for(connection.recv(), 10))
        assert hello["event"] == "connected", hello
        socket = cls(connection, hello["data"]["sid"])
        socket.reader = asyncio.create_task(socket._read())
        return socket

    async def _read(self) -> None:
        async for frame in self.connection:
            event = json.loads(frame)
            if event["event"] == "task_update":
                self.queue(event["data"]["task_id"]).put_nowait(event)
            else:
                await self.others.put(event)

    def queue(self, task_id: str) -> asyncio.Queue[Event]:
        return self.updates.setdefault(task_id, asyncio.Queue())

    async def send(self, event: str, data: dict[str, Any]) -> None:
        await self.connection.send(json.dumps({"event": event, "data": data}))

    async def next_other(self, timeout: float = 10) -> Event:
        return await asyncio.wait_for(self.others.get(), timeout)

    async def join(self, task_id: str, token: str, after_seq: int | None = None) -> Event:
        data: dict[str, Any] = {"task_id": task_id, "token": token}
        if after_seq is not None:
            data["after_seq"] = after_seq
        self.queue(task_id)
        await self.send("join_task", data)
        return await self.next_other()

    async def until_done(self, task_id: str, timeout: float = 60) -> list[Event]:
        """Every update of the task up to its `complete` or `error`."""
        received: list[Event] = []
        queue = self.queue(task_id)

        async def collect() -> None:
            while True:
                event = await queue.get()
                received.append(event["data"])
                if event["data"]["type"] in TERMINAL:
                    return

        await asyncio.wait_for(collect(), timeout)
        return received

    async def close(self) -> None:
        await self.connection.close()
        if self.reader:
            self.reader.cancel()


async def upload(client: httpx.AsyncClient, name: str, content: bytes, mime: str) -> Event:
    response = await client.post("/api/upload", files={"file": (name, content, mime)})
    assert response.status_code == 201, response.text
    body: Event = response.json()
    return body


async def trigger(client: httpx.AsyncClient, blob_url: str, filename: str, **options: Any) -> Event:
    response = await client.post(
        "/api/invoices/upload",
        json={"blob_url": blob_url, "filename": filename, "options": options},
    )
    assert response.status_code == 202, response.text
    body: Event = response.json()
    return body


def assert_contiguous(updates: list[Event]) -> None:
    assert [u["seq"] for u in updates] == list(range(1, len(updates) + 1)), updates
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress), progress
