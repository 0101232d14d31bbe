"""Accepting tasks: a `TaskRecord` in the tasks bucket, then `ExtractInvoice` on the work stream.

The record holds only the sha256 of the task's token, so the bucket never holds a capability.
Records never change once written, so each replica keeps recently used ones in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from contracts import (
    ExtractInvoice,
    ProcessingOptions,
    ProgressMark,
    TaskRecord,
    TaskStatus,
    TaskUpdated,
)
from contracts.names import is_task_id
from services.messaging.envelopes import command_envelope
from services.messaging.progress_stream import read_last
from services.messaging.publisher import jetstream_publisher
from services.telemetry.metrics import TASKS_ACCEPTED


def new_task_id() -> str:
    return f"task_{secrets.token_hex(16)}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, record: TaskRecord) -> bool:
    # Constant-time: the time taken says nothing about how much of the digest matched.
    return hmac.compare_digest(token_sha256(token), record.token_sha256)


@dataclass(frozen=True)
class AcceptedTask:
    task_id: str
    token: str
    filename: str

    def body(self) -> dict[str, str]:
        """The task as the accepting endpoints answer it (spec section 1)."""
        return {
            "task_id": self.task_id,
            "websocket_room": self.task_id,
            "token": self.token,
            "filename": self.filename,
            "status": TaskStatus.PENDING.value,
        }


class TaskService:
    def __init__(self, js: JetStreamContext, kv: KeyValue, cache_size: int = 10_000) -> None:
        self._js = js
        self._publish = jetstream_publisher(js)
        self._kv = kv
        self._cache: OrderedDict[str, TaskRecord] = OrderedDict()
        self._cache_size = cache_size

    async def accept(
        self,
        *,
        tenant: str | None,
        filename: str,
        blob_url: str,
        options: ProcessingOptions,
    ) -> AcceptedTask:
        task_id, token = new_task_id(), new_token()
        record = TaskRecord(
            task_id=task_id,
            tenant=tenant,
            filename=filename,
            token_sha256=token_sha256(token),
            blob_url=blob_url,
            options=options,
        )
        # The record first: once the command is out, a worker may report progress on it.
        await self._kv.put(task_id, record.model_dump_json().encode())
        self._remember(record)
        command = ExtractInvoice(
            task_id=task_id,
            tenant=tenant,
            filename=filename,
            blob_url=blob_url,
            options=options,
            progress_mark=ProgressMark(),  # a new task: nothing reported yet
        )
        await self._publish(command_envelope(command))
        TASKS_ACCEPTED.inc()
        return AcceptedTask(task_id, token, filename)

    async def record(self, task_id: str) -> TaskRecord | None:
        """The task's record, or None for an unknown (or malformed) id."""
        if not is_task_id(task_id):
            return None
        cached = self._cache.get(task_id)
        if cached is not None:
            self._cache.move_to_end(task_id)
            return cached
        try:
            entry = await self._kv.get(task_id)
        except NotFoundError:
            return None
        if entry.value is None:
            return None
        record = TaskRecord.model_validate_json(entry.value)
        self._remember(record)
        return record

    async def last_update(self, task_id: str) -> TaskUpdated | None:
        found = await read_last(self._js, task_id)
        return found[1] if found else None

    def _remember(self, record: TaskRecord) -> None:
        self._cache[record.task_id] = record
        self._cache.move_to_end(record.task_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
