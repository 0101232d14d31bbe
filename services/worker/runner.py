"""Runs one work message: heartbeats, ack, bounded retries with backoff, dead-lettering.

FastStream's default policy would `term()` a failed NATS message (no retry at all), so work
subscribers use `AckPolicy.MANUAL` and this runner decides: ack on success, `nak(delay)` while
deliveries remain, and on the last delivery (or a permanent error) one `error` update, a dead
letter, and `term()`. A worker killed on its last delivery is covered by `exhausted.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from faststream.nats import NatsBroker, NatsMessage

from contracts import (
    ErrorCode,
    Message,
    Stage,
    StageCommand,
    TaskDeadLettered,
    UpdateType,
    task_error,
)
from contracts.names import DEAD_LETTER_STREAM, WORK_STREAM, dead_letter_subject
from services.messaging.progress_log import ProgressLog
from services.worker.errors import StageError

log = logging.getLogger(__name__)

Work = Callable[[ProgressLog], Awaitable[None]]
ProgressFactory = Callable[[str], ProgressLog]


@dataclass(frozen=True)
class RetryPolicy:
    ack_wait_seconds: float
    max_deliver: int
    backoff_seconds: Sequence[float]

    def delay(self, deliveries: int) -> float:
        index = min(max(deliveries - 1, 0), len(self.backoff_seconds) - 1)
        return self.backoff_seconds[index] if self.backoff_seconds else 0.0


async def publish_command(broker: NatsBroker, subject: str, command: Message) -> None:
    """Publish a work command; the deterministic `Nats-Msg-Id` drops a retried duplicate."""
    await broker.publish(
        command.model_dump_json().encode(),
        subject,
        headers={"Nats-Msg-Id": f"{command.task_id}:{subject}"},
        stream=WORK_STREAM,
    )


async def fail_task(
    broker: NatsBroker,
    progress: ProgressLog,
    *,
    consumer: str,
    subject: str,
    stage: Stage,
    code: str,
    message: str,
    deliveries: int,
    command: bytes,
) -> None:
    """End the task with one `error` update and keep the command as a dead letter."""
    error = task_error(code, message)
    last = progress.last
    failed_stage = last.stage if last is not None and last.stage is not Stage.COMPLETE else stage
    await progress.append(
        UpdateType.ERROR,
        failed_stage,
        last.progress if last else 0,
        message,
        error=error,
    )
    letter = TaskDeadLettered(
        task_id=progress.task_id,
        consumer=consumer,
        subject=subject,
        error=error,
        deliveries=deliveries,
        command=json.loads(command) if command else {},
    )
    await broker.publish(
        letter.model_dump_json().encode(),
        dead_letter_subject(consumer),
        headers={"Nats-Msg-Id": f"{progress.task_id}:{consumer}:dead_letter"},
        stream=DEAD_LETTER_STREAM,
    )


class StageRunner:
    """Wraps every work handler of one consumer."""

    def __init__(
        self,
        broker: NatsBroker,
        progress_factory: ProgressFactory,
        *,
        consumer: str,
        subject: str,
        first_stage: Stage,
        policy: RetryPolicy,
    ) -> None:
        self._broker = broker
        self._progress_factory = progress_factory
        self.consumer = consumer
        self.subject = subject
        self.first_stage = first_stage
        self.policy = policy

    async def run(self, msg: NatsMessage, command: StageCommand, work: Work) -> None:
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
            await work(progress)
        except StageError as exc:
            await self._failed(msg, progress, deliveries, exc.code, exc.message, exc.retryable)
        except Exception as exc:
            log.exception("task %s failed in %s", command.task_id, self.consumer)
            await self._failed(
                msg, progress, deliveries, ErrorCode.INTERNAL_ERROR, _describe(exc), True
            )
        else:
            await msg.ack()
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _failed(  # noqa: PLR0917
        self,
        msg: NatsMessage,
        progress: ProgressLog,
        deliveries: int,
        code: str,
        message: str,
        retryable: bool,
    ) -> None:
        if retryable and deliveries < self.policy.max_deliver:
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
        if retryable:
            code = code if code != ErrorCode.INTERNAL_ERROR else ErrorCode.RETRIES_EXHAUSTED
            message = f"gave up after {deliveries} attempts: {message}"
        await fail_task(
            self._broker,
            progress,
            consumer=self.consumer,
            subject=self.subject,
            stage=self.first_stage,
            code=code,
            message=message,
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
