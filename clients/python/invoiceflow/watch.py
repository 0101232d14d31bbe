"""Following one task over `/ws`, resuming after a dropped connection without loss or repeats.

Each watch has a socket of its own: a `join_task` that fails answers with an `error` event that
does not name the task, so one task per socket keeps every answer unambiguous.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from invoiceflow.errors import GatewayUnreachable, InvoiceflowError
from invoiceflow.models import Json, Task, is_terminal

#: `error` event codes after which joining again later may work.
RETRYABLE_CODES = frozenset({"unavailable", "internal_error"})
MAX_FRAME = 32 * 1024 * 1024


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: `initial` doubling up to `maximum`, with jitter; give up after
    `give_up_after` seconds without a working connection."""

    initial: float = 0.2
    maximum: float = 5.0
    give_up_after: float = 60.0

    def delay(self, attempt: int) -> float:
        base: float = min(self.maximum, self.initial * 2**attempt)
        return base * random.uniform(0.75, 1.0)


DEFAULT_BACKOFF = Backoff()


class _Retry(Exception):
    """The gateway asked us to try again later (an `unavailable` error event, a 5xx handshake)."""


def ws_url(base_url: str) -> str:
    """`http://host:8000/prefix` → `ws://host:8000/prefix/ws`."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/ws"
    if base.startswith("http://"):
        return "ws://" + base.removeprefix("http://") + "/ws"
    return base + "/ws"


async def watch_task(
    url: str,
    task: Task,
    *,
    headers: Mapping[str, str] | None = None,
    after_seq: int = 0,
    backoff: Backoff = DEFAULT_BACKOFF,
    open_timeout: float = 10.0,
) -> AsyncIterator[Json]:
    """Yield the task's `task_update` data with `seq > after_seq`, each once and in order,
    ending after the terminal one (`complete` or `error`)."""
    last = after_seq
    attempt = 0
    down_since: float | None = None
    while True:
        try:
            async with connect(
                url,
                additional_headers=dict(headers or {}),
                compression=None,
                open_timeout=open_timeout,
                max_size=MAX_FRAME,
            ) as socket:
                await _join(socket, task, last)
                attempt, down_since = 0, None
                async for data in _updates(socket, task.task_id):
                    seq = int(data["seq"])
                    if seq <= last:
                        continue  # already yielded before a reconnect
                    last = seq
                    yield data
                    if is_terminal(data):
                        return
            reason = "the gateway closed the connection"
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status < 500:
                raise _refused(exc) from None
            reason = f"handshake answered {status}"
        except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError, _Retry) as exc:
            reason = str(exc) or type(exc).__name__
        now = time.monotonic()
        down_since = down_since if down_since is not None else now
        if now - down_since >= backoff.give_up_after:
            raise GatewayUnreachable(url, f"{reason} (gave up after {backoff.give_up_after:g} s)")
        await asyncio.sleep(backoff.delay(attempt))
        attempt += 1


async def _join(socket: ClientConnection, task: Task, after_seq: int) -> None:
    data = {"task_id": task.task_id, "token": task.token, "after_seq": after_seq}
    await socket.send(json.dumps({"event": "join_task", "data": data}))
    async for frame in socket:
        event = _decode(frame)
        name, body = event.get("event"), event.get("data") or {}
        if name == "joined_task" and body.get("task_id") == task.task_id:
            return
        if name == "error":
            _raise_event_error(body)
    raise _Retry("the connection closed before the join was answered")


async def _updates(socket: ClientConnection, task_id: str) -> AsyncIterator[Json]:
    async for frame in socket:
        event = _decode(frame)
        name, body = event.get("event"), event.get("data")
        if not isinstance(body, dict):
            continue
        if name == "task_update" and body.get("task_id") == task_id:
            yield body
        elif name == "error":
            _raise_event_error(body)


def _decode(frame: str | bytes) -> dict[str, Any]:
    try:
        event = json.loads(frame)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def _raise_event_error(body: Mapping[str, Any]) -> None:
    code = str(body.get("code") or "error")
    message = str(body.get("message") or "the gateway refused the request")
    if code in RETRYABLE_CODES:
        raise _Retry(f"{code}: {message}")
    raise InvoiceflowError(None, code, message)


def _refused(exc: InvalidStatus) -> InvoiceflowError:
    response = exc.response
    code, message = "handshake_refused", f"the gateway refused /ws with {response.status_code}"
    try:
        error = json.loads(response.body or b"{}").get("error") or {}
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
    except (ValueError, AttributeError):
        pass
    return InvoiceflowError(response.status_code, code, message)
