"""A step's handler run in memory by the real runtime (`services.worker.outcomes.advance`):
the real progress log over `MemoryProgressStore`, publishes recorded instead of sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts import Step, TaskUpdated
from services.messaging.envelopes import Envelope
from services.messaging.progress_log import ProgressLog
from services.worker.handler import Command, StageHandler
from services.worker.outcomes import advance
from tests.support.progress import MemoryProgressStore


@dataclass
class StepRun:
    step: Step
    store: MemoryProgressStore = field(default_factory=MemoryProgressStore)
    # (subject, body, {"stream", "headers"}) of each publish, as a broker would be called.
    published: list[tuple[str, bytes, dict[str, Any]]] = field(default_factory=list)

    async def __call__(self, handler: StageHandler[Command], command: Command) -> None:
        log = ProgressLog(self.store, command.task_id)
        await advance(self.step, handler, command, log, self._publish)

    async def _publish(self, envelope: Envelope) -> None:
        kwargs = {"stream": envelope.stream, "headers": envelope.headers}
        self.published.append((envelope.subject, envelope.body, kwargs))

    @property
    def updates(self) -> list[TaskUpdated]:
        return self.store.updates()

    def seen(self) -> list[tuple[str, str, int]]:
        return self.store.seen()
