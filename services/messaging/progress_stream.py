"""The progress stream on JetStream: `invoices.progress.<task_id>` in `INVOICES_PROGRESS`.

`JetStreamProgressStore` is the storage primitive `ProgressLog` appends through: a publish with
`Nats-Expected-Last-Subject-Sequence`, refused by the server when another writer appended first.
`read_last` and `read_history` are what the status endpoint and replay read (direct gets).
"""

from __future__ import annotations

from collections.abc import Mapping

from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from contracts import TaskUpdated
from contracts.names import PROGRESS_STREAM, progress_subject
from services.messaging.progress_log import ProgressLog
from services.messaging.publisher import inject_trace

_WRONG_LAST_SEQUENCE = 10071


async def read_last(js: JetStreamContext, task_id: str) -> tuple[int, TaskUpdated] | None:
    """The last stored update of a task and its stream sequence, or None."""
    try:
        raw = await js.get_last_msg(PROGRESS_STREAM, progress_subject(task_id), direct=True)
    except NotFoundError:
        return None
    assert raw.data is not None and raw.seq is not None
    return raw.seq, TaskUpdated.model_validate_json(raw.data)


async def read_history(
    js: JetStreamContext, task_id: str, after_seq: int = 0, from_stream_seq: int = 0
) -> list[tuple[int, TaskUpdated]]:
    """Stored updates of a task with `seq > after_seq`, in order, with their stream sequences."""
    subject = progress_subject(task_id)
    found: list[tuple[int, TaskUpdated]] = []
    stream_seq = from_stream_seq
    while True:
        try:
            raw = await js.get_msg(
                PROGRESS_STREAM, seq=stream_seq + 1, subject=subject, next=True, direct=True
            )
        except NotFoundError:
            return found
        assert raw.data is not None and raw.seq is not None
        stream_seq = raw.seq
        update = TaskUpdated.model_validate_json(raw.data)
        if update.seq > after_seq:
            found.append((stream_seq, update))


def progress_message_id(task_id: str, seq: int) -> str:
    """`Nats-Msg-Id` of a task's update `seq`: unique per update, and it names the seq."""
    return f"{task_id}:{seq}"


def progress_seq(headers: Mapping[str, str] | None) -> int | None:
    """The seq an update's message id names (read without parsing the body), or None."""
    _, _, seq = (headers or {}).get("Nats-Msg-Id", "").rpartition(":")
    return int(seq) if seq.isdigit() else None


class JetStreamProgressStore:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def last(self, task_id: str) -> tuple[int, TaskUpdated] | None:
        return await read_last(self._js, task_id)

    async def append(self, update: TaskUpdated, *, after: int) -> int | None:
        headers = inject_trace(
            {
                # A retried publish of the same seq is dropped by the stream's dedup window.
                "Nats-Msg-Id": progress_message_id(update.task_id, update.seq),
                "Nats-Expected-Last-Subject-Sequence": str(after),
            }
        )
        try:
            ack = await self._js.publish(
                progress_subject(update.task_id),
                update.model_dump_json().encode(),
                stream=PROGRESS_STREAM,
                headers=headers,
            )
        except BadRequestError as exc:
            if exc.err_code != _WRONG_LAST_SEQUENCE:
                raise
            return None
        return None if ack.duplicate else ack.seq


def progress_log(js: JetStreamContext, task_id: str) -> ProgressLog:
    """A task's progress log on the JetStream progress stream."""
    return ProgressLog(JetStreamProgressStore(js), task_id)
