"""What a stage handler is, and all it sees of the runtime.

    async def handle(command: ExtractInvoice, report: StageReport) -> ValidateInvoice | TaskResult

A handler gets its step's command and a `StageReport`, does the step's work, and returns what
follows: the next step's command or, when its step may end the task, the task's result. It opens
each of its stages with `report.stage(...)`; the runtime appends that stage's `stage_start` and
`stage_complete` at the progress `contracts.pipeline` gives it, publishes the next command or
completes the task, and decides what a raised `StageError` (errors.py) means for the task.
A handler knows nothing of NATS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

from contracts import Stage, StageCommand, TaskResult

Outcome = StageCommand | TaskResult
Command = TypeVar("Command", bound=StageCommand)


class StageProgress(Protocol):
    """One stage under way."""

    async def progress(self, value: int, message: str) -> None:
        """A `progress` update; `value` is kept strictly inside the stage's range."""
        ...

    def done(self, message: str) -> None:
        """The message of the stage's `stage_complete`, appended when the stage ends."""
        ...


class StageReport(Protocol):
    def stage(self, stage: Stage, message: str) -> AbstractAsyncContextManager[StageProgress]:
        """Open a stage: `stage_start` with `message` now, `stage_complete` when the block
        ends without an exception."""
        ...


StageHandler = Callable[[Command, StageReport], Awaitable[Outcome]]
