"""A task's progress updates, appended exactly once each with a contiguous `seq`.

The progress stream is the only source of truth. The log stands on one storage primitive,
`ProgressStore.append(update, after=stream_seq)`: store the update only if the task's last
stored update is still the one at `stream_seq` (JetStream's expected-last-subject-sequence), so
two writers (two replicas handling a redelivered message, or two stages) can never both take the
same `seq`. Each update has a position in the pipeline's total order (`contracts.position`); an
update at or before the last stored position was already emitted by an earlier delivery and is
skipped. Knows nothing of NATS: `progress_stream.py` is the JetStream store.
"""

from __future__ import annotations

import time
from typing import Protocol

from contracts import ProgressMark, Stage, TaskError, TaskResult, TaskUpdated, UpdateType, position
from contracts.progress import TERMINAL_TYPES

_MAX_CONFLICTS = 50


class ProgressConflictError(RuntimeError):
    """Another writer kept winning the race for the next `seq` (should never happen)."""


class ProgressStore(Protocol):
    async def last(self, task_id: str) -> tuple[int, TaskUpdated] | None:
        """The task's last stored update and its stream sequence, or None."""
        ...

    async def append(self, update: TaskUpdated, *, after: int) -> int | None:
        """Store `update` if the task's last stored update is at stream sequence `after` (0:
        none yet); its stream sequence, or None when another writer got there first."""
        ...


class ProgressLog:
    """Appends one task's updates; cheap to create per message handled."""

    def __init__(self, store: ProgressStore, task_id: str) -> None:
        self._store = store
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
        found = await self._store.last(self.task_id)
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
            placed = self._placed(type_, stage, progress)
            if placed is None:
                return None
            update = TaskUpdated(
                task_id=self.task_id,
                type=type_,
                seq=self.last.seq + 1 if self.last else 1,
                progress=placed,
                stage=stage,
                message=message,
                timestamp=time.time(),
                result=result,
                error=error,
            )
            stream_seq = await self._store.append(update, after=self._stream_seq)
            if stream_seq is None:
                self._loaded = False  # someone else appended: look again
                continue
            self._stream_seq, self.last = stream_seq, update
            return update
        raise ProgressConflictError(f"could not append progress for {self.task_id}")

    def _placed(self, type_: UpdateType, stage: Stage, progress: int) -> int | None:
        """The progress to store the update at, or None when it must be skipped."""
        last = self.last
        if last is None:
            return progress
        if last.type in TERMINAL_TYPES:
            return None  # nothing follows the end of a task
        if type_ is UpdateType.ERROR:
            return max(progress, last.progress)  # an error never moves progress back
        if position(progress, stage, type_) <= position(last.progress, last.stage, last.type):
            return None  # emitted already, by an earlier delivery
        return progress
