"""An in-memory `ProgressLog` with the same skipping rules, for tests without NATS."""

from __future__ import annotations

from typing import cast

from nats.js import JetStreamContext

from contracts import Stage, TaskError, TaskResult, TaskUpdated, UpdateType, position
from contracts.progress import TERMINAL_TYPES
from services.messaging.progress_log import ProgressLog


class MemoryProgress(ProgressLog):
    """Appends to `updates`, which several logs may share (one list per harness)."""

    def __init__(self, task_id: str, updates: list[TaskUpdated] | None = None) -> None:
        super().__init__(cast(JetStreamContext, None), task_id)
        self.updates: list[TaskUpdated] = [] if updates is None else updates

    def _own(self) -> list[TaskUpdated]:
        return [u for u in self.updates if u.task_id == self.task_id]

    def _latest(self) -> TaskUpdated | None:
        own = self._own()
        return own[-1] if own else None

    async def is_finished(self) -> bool:
        last = self._latest()
        return last is not None and last.type in TERMINAL_TYPES

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
        last = self._latest()
        if last is not None and (
            last.type in TERMINAL_TYPES
            or position(progress, stage, type_) <= position(last.progress, last.stage, last.type)
        ):
            return None
        update = TaskUpdated(
            task_id=self.task_id,
            type=type_,
            seq=len(self._own()) + 1,
            progress=progress,
            stage=stage,
            message=message,
            timestamp=0.0,
            result=result,
            error=error,
        )
        self.updates.append(update)
        self.last = update
        return update

    def seen(self) -> list[tuple[str, str, int]]:
        return [(u.type.value, u.stage.value, u.progress) for u in self._own()]
