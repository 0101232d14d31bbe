"""A task's progress updates, appended exactly once each with a contiguous `seq`.

The progress stream is the only source of truth: an update is published to
`invoices.progress.<task_id>` with `Nats-Expected-Last-Subject-Sequence`, so two writers (two
replicas handling a redelivered message, or two stages) can never both take the same `seq`.
Each update has a position in the pipeline's total order (`contracts.position`); an update at or
before the last stored position was already emitted by an earlier delivery and is skipped.
"""

from __future__ import annotations

import time

from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from contracts import ProgressMark, Stage, TaskError, TaskResult, TaskUpdated, UpdateType, position
from contracts.names import PROGRESS_STREAM, progress_subject
from contracts.progress import TERMINAL_TYPES

_WRONG_LAST_SEQUENCE = 10071
_MAX_CONFLICTS = 50


class ProgressConflictError(RuntimeError):
    """Another writer kept winning the race for the next `seq` (should never happen)."""


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


class ProgressLog:
    """Appends one task's updates; cheap to create per message handled."""

    def __init__(self, js: JetStreamContext, task_id: str) -> None:
        self._js = js
        self.task_id = task_id
        self._loaded = False
        self._stream_seq = 0
        self.last: TaskUpdated | None = None

    def resume(self, mark: ProgressMark) -> None:
        """Start from a known position instead of reading the stream (see `StageCommand`)."""
        self._stream_seq, self.last, self._loaded = mark.stream_seq, mark.last, True

    def mark(self) -> ProgressMark:
        """Where this task's progress stands now, for the command that starts the next stage."""
        return ProgressMark(stream_seq=self._stream_seq, last=self.last)

    async def _load(self) -> None:
        found = await read_last(self._js, self.task_id)
        self._stream_seq, self.last = found if found else (0, None)
        self._loaded = True

    async def is_finished(self) -> bool:
        if not self._loaded:
            await self._load()
        return self.last is not None and self.last.type in TERMINAL_TYPES

    async def append(
        self,
        type_: UpdateType,
        stage: Stage,
        progress: int,
        message: str,
        *,
        result: TaskResult | None = None,
        error: TaskError | None = None,
    ) -> TaskUpdated | None:
        """Store the update unless it or a later one is stored already; return what was stored."""
        for _ in range(_MAX_CONFLICTS):
            if not self._loaded:
                await self._load()
            last = self.last
            if last is not None:
                if last.type in TERMINAL_TYPES:
                    return None
                if type_ is UpdateType.ERROR:
                    progress = max(progress, last.progress)
                elif position(progress, stage, type_) <= position(
                    last.progress, last.stage, last.type
                ):
                    return None
            seq = last.seq + 1 if last else 1
            update = TaskUpdated(
                task_id=self.task_id,
                type=type_,
                seq=seq,
                progress=progress,
                stage=stage,
                message=message,
                timestamp=time.time(),
                result=result,
                error=error,
            )
            headers = {
                "Nats-Msg-Id": f"{self.task_id}:{seq}",
                "Nats-Expected-Last-Subject-Sequence": str(self._stream_seq),
            }
            try:
                ack = await self._js.publish(
                    progress_subject(self.task_id),
                    update.model_dump_json().encode(),
                    stream=PROGRESS_STREAM,
                    headers=headers,
                )
            except BadRequestError as exc:
                if exc.err_code != _WRONG_LAST_SEQUENCE:
                    raise
                self._loaded = False  # someone else appended: look again
                continue
            if ack.duplicate:
                self._loaded = False
                continue
            self._stream_seq, self.last = ack.seq, update
            return update
        raise ProgressConflictError(f"could not append progress for {self.task_id}")
