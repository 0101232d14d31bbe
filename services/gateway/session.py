"""One socket's protocol state, whatever the transport (/ws frames or Socket.IO messages):
`join_task`, `leave_task`, `ping`; one socket, many tasks. A bad frame gets an `error` event;
the socket stays open."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.names import is_task_id
from services.gateway import frames
from services.gateway.auth import Caller, may_see
from services.gateway.depth import DEFAULT_MAX_DEPTH, TOO_DEEP, too_deep_message, within_depth
from services.gateway.errors import describe_validation
from services.gateway.hub import Follow, Hub
from services.gateway.outbox import Outbox
from services.gateway.tasks import TaskService, token_matches

log = logging.getLogger(__name__)


class _Data(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class JoinTask(_Data):
    task_id: str
    token: str
    after_seq: int = Field(default=0, ge=0)


class LeaveTask(_Data):
    task_id: str


class Session:
    """One socket's protocol state: the tasks it follows."""

    def __init__(
        self,
        *,
        tasks: TaskService,
        hub: Hub,
        outbox: Outbox,
        caller: Caller,
        max_tasks: int,
        max_depth: int = DEFAULT_MAX_DEPTH,
        sid: str | None = None,
    ) -> None:
        self.sid = sid or secrets.token_hex(12)
        self._tasks = tasks
        self._hub = hub
        self._outbox = outbox
        self._caller = caller
        self._max_tasks = max_tasks
        self._max_depth = max_depth
        self._follows: dict[str, Follow] = {}

    @property
    def following(self) -> frozenset[str]:
        return frozenset(self._follows)

    async def handle(self, text: str) -> None:
        """One /ws text frame: `{"event": …, "data": {…}}`."""
        if not within_depth(text, self._max_depth):
            return self.too_deep()
        try:
            frame = json.loads(text)
        except ValueError:
            return self._error("bad_frame", 'frames are JSON objects {"event": …, "data": {…}}')
        if not isinstance(frame, dict) or not isinstance(frame.get("event"), str):
            return self._error("bad_frame", 'frames are JSON objects {"event": …, "data": {…}}')
        return await self.handle_event(frame["event"], frame.get("data"))

    async def handle_event(self, event: str, data: Any) -> None:
        """One client event, whatever the transport (/ws frame or Socket.IO message)."""
        handler = _HANDLERS.get(event)
        if handler is None:
            return self._error("unknown_event", f"unknown event {event[:50]!r}")
        data = {} if data is None else data
        if not isinstance(data, dict):
            return self._error("invalid_data", "data must be a JSON object")
        try:
            await handler(self, data)
        except ValidationError as exc:
            self._error("invalid_data", describe_validation(exc.errors()))
        except nats.errors.Error as exc:
            log.warning("NATS unavailable for a %s: %r", event, exc)
            self._error("unavailable", "the message broker is unavailable, try again")
        except Exception:
            log.exception("failed to handle a %s", event)
            self._error("internal_error", "internal server error")
        return None

    def too_deep(self) -> None:
        self._error(TOO_DEEP, too_deep_message(self._max_depth))

    def frame_failed(self) -> None:
        self._error("bad_frame", "this frame could not be handled")

    def binary_frame(self) -> None:
        self._error("bad_frame", "frames are text, not binary")

    def close(self) -> None:
        for follow in self._follows.values():
            self._hub.leave(follow)
        self._follows.clear()

    async def _join(self, data: dict[str, Any]) -> None:
        request = JoinTask.model_validate(data)
        task_id = request.task_id
        record = await self._tasks.record(task_id)
        if record is None or not may_see(self._caller, record):
            return self._error("task_not_found", f"no task {_shown(task_id)}")
        if not token_matches(request.token, record):
            return self._error("invalid_token", f"wrong token for {task_id}")
        previous = self._follows.pop(task_id, None)
        if previous is not None:
            self._hub.leave(previous)  # joining again restarts from the new after_seq
        elif len(self._follows) >= self._max_tasks:
            # Ended tasks cost nothing more; only those still running count against the limit.
            self._follows = {key: f for key, f in self._follows.items() if not f.finished}
            if len(self._follows) >= self._max_tasks:
                return self._error("too_many_tasks", f"a socket follows at most {self._max_tasks}")
        self._outbox.send(frames.encode("joined_task", {"task_id": task_id}))
        self._follows[task_id] = self._hub.follow(task_id, self._outbox, request.after_seq)
        return None

    async def _leave(self, data: dict[str, Any]) -> None:
        request = LeaveTask.model_validate(data)
        follow = self._follows.pop(request.task_id, None)
        if follow is not None:
            self._hub.leave(follow)
        self._outbox.send(frames.encode("left_task", {"task_id": request.task_id}))

    async def _ping(self, data: dict[str, Any]) -> None:
        self._outbox.send(frames.encode("pong", {}))

    def _error(self, code: str, message: str) -> None:
        self._outbox.send(frames.error(code, message))


# Events by name: one table for every session (thousands are open at once).
_HANDLERS: dict[str, Callable[[Session, dict[str, Any]], Awaitable[None]]] = {
    "join_task": Session._join,
    "leave_task": Session._leave,
    "ping": Session._ping,
}


def _shown(task_id: str) -> str:
    return task_id if is_task_id(task_id) else "with that id"
