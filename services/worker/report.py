"""`StageReporter`: the `StageReport` a handler gets, appending to the task's progress log at the
progress numbers of the step's stages in `contracts.pipeline`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from contracts import Stage, Step, UpdateType
from contracts.pipeline import StageSpan
from services.messaging.progress_log import ProgressLog
from services.telemetry.metrics import STAGE_DURATION
from services.telemetry.tracing import tracer


class _StageUnderWay:
    def __init__(self, log: ProgressLog, span: StageSpan) -> None:
        self._log = log
        self._span = span
        self.message = f"Finished {span.stage}"

    async def progress(self, value: int, message: str) -> None:
        await self._log.append(
            UpdateType.PROGRESS, self._span.stage, self._span.inside(value), message
        )

    def done(self, message: str) -> None:
        self.message = message


class StageReporter:
    def __init__(self, step: Step, log: ProgressLog) -> None:
        self._step = step
        self._log = log

    @asynccontextmanager
    async def stage(self, stage: Stage, message: str) -> AsyncIterator[_StageUnderWay]:
        span = self._step.span(stage)  # a stage of another step is a programming error
        with tracer().start_as_current_span(str(stage)):
            started = time.perf_counter()
            await self._log.append(UpdateType.STAGE_START, stage, span.start, message)
            under_way = _StageUnderWay(self._log, span)
            yield under_way
            await self._log.append(UpdateType.STAGE_COMPLETE, stage, span.end, under_way.message)
            STAGE_DURATION.labels(stage).observe(time.perf_counter() - started)
