"""Runs one work message: heartbeats, ack, bounded retries with backoff, dead-lettering.

FastStream's default policy would `term()` a failed NATS message (no retry at all), so work
subscribers use `AckPolicy.MANUAL` and this runner decides: ack on success, `nak(delay)` while
deliveries remain, and on the last delivery (or a permanent error) `fail_task` and `term()`.
A worker killed on its last delivery is covered by `exhausted.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from faststream.nats import NatsMessage

from contracts import ErrorCode, Step, task_error
from services.messaging.envelopes import Publish
from services.messaging.progress_log import ProgressLog
from services.worker.errors import StageError
from services.worker.handler import Command, StageHandler
from services.worker.outcomes import advance, fail_task

log = logging.getLogger(__name__)

ProgressFactory = Callable[[str], ProgressLog]


@dataclass(frozen=True)
class RetryPolicy:
    ack_wait_seconds: float
    max_deliver: int
    backoff_seconds: Sequence[float]

    def delay(self, deliveries: int) -> float:
        index = min(max(deliveries - 1, 0), len(self.backoff_seconds) - 1)
        return self.backoff_seconds[index] if self.backoff_seconds else 0.0


@dataclass(frozen=True)
class _Failure:
    code: str
    message: str
    retryable: bool


class StageRunner:
    """Runs one step's handler on each of its work messages."""

    def __init__(
        self,
        step: Step,
        publish: Publish,
        progress_factory: ProgressFactory,
        policy: RetryPolicy,
    ) -> None:
        self.step = step
        self._publish = publish
        self._progress_factory = progress_factory
        self.policy = policy

    async def run(self, msg: NatsMessage, command: Command, handler: StageHandler[Command]) -> None:
        progress = self._progress_factory(command.task_id)
        deliveries = _deliveries(msg)
        if deliveries == 1 and command.progress_mark is not None:
            # A first delivery saves a read; a redelivery may be stale, so it reads the stream.
            progress.resume(command.progress_mark)
        if await progress.is_finished():
            # A stale redelivery of a task that already completed or failed.
            await msg.ack()
            return
        heartbeat = asyncio.create_task(self._keep_alive(msg))
        try:
            failure = await self._attempt(command, handler, progress)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        if failure is None:
            await msg.ack()
        else:
            await self._failed(msg, progress, deliveries, failure)

    async def _attempt(
        self, command: Command, handler: StageHandler[Command], progress: ProgressLog
    ) -> _Failure | None:
        try:
            await advance(self.step, handler, command, progress, self._publish)
        except StageError as exc:
            return _Failure(exc.code, exc.message, exc.retryable)
        except Exception as exc:
            log.exception("task %s failed in %s", command.task_id, self.step.consumer)
            return _Failure(ErrorCode.INTERNAL_ERROR, _describe(exc), True)
        return None

    async def _failed(
        self, msg: NatsMessage, progress: ProgressLog, deliveries: int, failure: _Failure
    ) -> None:
        code, message = failure.code, failure.message
        if failure.retryable and deliveries < self.policy.max_deliver:
            log.warning(
                "task %s: %s (%s), delivery %d of %d, retrying",
                progress.task_id,
                message,
                code,
                deliveries,
                self.policy.max_deliver,
            )
            await msg.nack(delay=self.policy.delay(deliveries))
            return
        if failure.retryable:
            code = code if code != ErrorCode.INTERNAL_ERROR else ErrorCode.RETRIES_EXHAUSTED
            message = f"gave up after {deliveries} attempts: {message}"
        await fail_task(
            progress,
            self._publish,
            step=self.step,
            error=task_error(code, message),
            deliveries=deliveries,
            command=msg.body,
        )
        await msg.reject()

    async def _keep_alive(self, msg: NatsMessage) -> None:
        # Long LLM calls must not outlive ack_wait: tell the server we are still working.
        interval = max(self.policy.ack_wait_seconds / 3, 0.1)
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await msg.in_progress()


def _deliveries(msg: NatsMessage) -> int:
    try:
        return int(msg.raw_message.metadata.num_delivered)
    except Exception:  # TestNatsBroker messages carry no JetStream metadata
        return 1


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
