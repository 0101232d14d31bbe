"""Runs one work message: decode, heartbeats, the handler, and what its outcome means for the
message — ack, a retry, a wait for a dependency, a hand-back, or the task's failure.

Failures are classified here, once:
- the document or the request (`PermanentError`): the task fails now;
- a provider's refusal or transient error (`TransientError`, or anything unexpected): retried
  with backoff while deliveries remain, then the task fails;
- a dependency that does not answer (`DependencyUnavailableError`, NATS away): the message is
  kept (heartbeats go on, no delivery is spent) and tried again when the dependency is back;
  the replica is not ready meanwhile. An outage delays work; it never fails a task.
On drain (SIGTERM) new messages are handed back at once (`nak` without delay), and so is the
work still running when the grace period ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from contracts import ErrorCode, Message, StageCommand, Step, task_error
from services.messaging.envelopes import Publish
from services.messaging.outages import is_nats_outage
from services.messaging.progress_log import ProgressLog
from services.telemetry.health import Health
from services.telemetry.logs import TASK_ID
from services.telemetry.metrics import DEPENDENCY_WAITS, REDELIVERIES
from services.telemetry.tracing import extract, tracer
from services.worker.errors import DependencyUnavailableError, StageError
from services.worker.handler import StageHandler
from services.worker.outcomes import advance, fail_task

log = logging.getLogger(__name__)

ProgressFactory = Callable[[str], ProgressLog]
# Between tries while a dependency is down (the last value repeats); a probe that sees it back
# ends the wait early.
OUTAGE_RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0)


class Metadata(Protocol):
    @property
    def num_delivered(self) -> int | None: ...


class WorkMessage(Protocol):
    """What the runner needs of a JetStream message (nats-py's `Msg`)."""

    @property
    def data(self) -> bytes: ...

    @property
    def headers(self) -> dict[str, str] | None: ...

    @property
    def metadata(self) -> Metadata: ...

    async def ack(self) -> None: ...

    async def nak(self, delay: float | None = None) -> None: ...

    async def term(self) -> None: ...

    async def in_progress(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    ack_wait_seconds: float
    max_deliver: int
    backoff_seconds: Sequence[float]

    def delay(self, deliveries: int) -> float:
        index = min(max(deliveries - 1, 0), len(self.backoff_seconds) - 1)
        return self.backoff_seconds[index] if self.backoff_seconds else 0.0


@dataclass(frozen=True)
class _Done:
    """Nothing more to do for this message (the work is done, or the task had ended)."""


@dataclass(frozen=True)
class _HandBack:
    """Give the message back for another replica (draining)."""


@dataclass(frozen=True)
class _Failure:
    code: str
    message: str
    retryable: bool


@dataclass(frozen=True)
class _Outage:
    dependency: str
    reason: str


Verdict = _Done | _HandBack | _Failure


@dataclass
class _Attempts:
    """One message's tries: the dependencies it waited for, and how long to wait next."""

    waited_for: set[str] = field(default_factory=set)
    outages: int = 0

    def next_wait(self) -> float:
        self.outages += 1
        return OUTAGE_RETRY_SECONDS[min(self.outages, len(OUTAGE_RETRY_SECONDS)) - 1]


class StageRunner:
    """Runs one step's handler on each of its work messages."""

    def __init__(
        self,
        step: Step,
        *,
        handler: StageHandler[StageCommand],
        publish: Publish,
        progress_factory: ProgressFactory,
        policy: RetryPolicy,
        health: Health,
    ) -> None:
        self.step = step
        self._handler = handler
        self._publish = publish
        self._progress_factory = progress_factory
        self.policy = policy
        self._health = health

    async def run(self, msg: WorkMessage) -> None:
        if self._health.draining:
            await _quietly(msg.nak(0))  # stopping: another replica takes it now
            return
        command = await self._read(msg)
        if command is None:
            return
        token = TASK_ID.set(command.task_id)
        span = tracer().start_as_current_span(
            self.step.name, context=extract(msg.headers), kind=SpanKind.CONSUMER
        )
        try:
            with span as current:
                current.set_attribute("invoiceflow.task_id", command.task_id)
                await self._run(msg, command)
        finally:
            TASK_ID.reset(token)

    async def _run(self, msg: WorkMessage, command: StageCommand) -> None:
        deliveries = _deliveries(msg)
        progress = self._progress_factory(command.task_id)
        if deliveries == 1 and command.progress_mark is not None:
            # A first delivery saves a read; a redelivery may be stale, so it reads the stream.
            progress.resume(command.progress_mark)
        heartbeat = asyncio.create_task(self._keep_alive(msg))
        try:
            verdict = await self._work(command, progress)
        except asyncio.CancelledError:
            # The drain's grace ran out: hand the message back before going.
            await asyncio.shield(_quietly(msg.nak(0)))
            raise
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        await self._settle(msg, progress, deliveries, verdict)

    async def _work(self, command: StageCommand, progress: ProgressLog) -> Verdict:
        attempts = _Attempts()
        while True:
            outcome = await self._attempt(command, progress)
            if not isinstance(outcome, _Outage):
                for dependency in attempts.waited_for:
                    self._health.up(dependency)
                return outcome
            attempts.waited_for.add(outcome.dependency)
            self._health.down(outcome.dependency, outcome.reason)
            DEPENDENCY_WAITS.labels(outcome.dependency).inc()
            if self._health.draining:
                return _HandBack()
            await self._health.wait_up(outcome.dependency, attempts.next_wait())

    async def _attempt(self, command: StageCommand, progress: ProgressLog) -> Verdict | _Outage:
        try:
            if await progress.is_finished():
                return _Done()  # a stale redelivery of a task that already ended
            await advance(self.step, self._handler, command, progress, self._publish)
        except StageError as exc:
            return _Failure(exc.code, exc.message, exc.retryable)
        except DependencyUnavailableError as exc:
            return _Outage(exc.dependency, exc.message)
        except Exception as exc:
            if is_nats_outage(exc):
                return _Outage("nats", "the message broker does not answer")
            log.exception("task %s failed in %s", command.task_id, self.step.consumer)
            return _Failure(
                ErrorCode.INTERNAL_ERROR, f"the {self.step.name} step failed unexpectedly", True
            )
        return _Done()

    async def _settle(
        self, msg: WorkMessage, progress: ProgressLog, deliveries: int, verdict: Verdict
    ) -> None:
        if isinstance(verdict, _Done):
            await _quietly(msg.ack())
        elif isinstance(verdict, _HandBack):
            await _quietly(msg.nak(0))
        elif verdict.retryable and deliveries < self.policy.max_deliver:
            log.warning(
                "task %s: %s (%s), delivery %d of %d, retrying",
                progress.task_id,
                verdict.message,
                verdict.code,
                deliveries,
                self.policy.max_deliver,
            )
            REDELIVERIES.labels(self.step.consumer).inc()
            await _quietly(msg.nak(self.policy.delay(deliveries)))
        else:
            await self._fail(msg, progress, deliveries, verdict)

    async def _fail(
        self, msg: WorkMessage, progress: ProgressLog, deliveries: int, failure: _Failure
    ) -> None:
        code, message = failure.code, failure.message
        if failure.retryable:
            code = code if code != ErrorCode.INTERNAL_ERROR else ErrorCode.RETRIES_EXHAUSTED
            message = f"gave up after {deliveries} attempts: {message}"
        try:
            await fail_task(
                progress,
                self._publish,
                step=self.step,
                error=task_error(code, message),
                deliveries=deliveries,
                command=msg.data,
            )
        except Exception:
            # Could not record the failure (NATS away): the message comes back and ends then.
            log.warning("could not end task %s now; it will be retried", progress.task_id)
            await _quietly(msg.nak(self.policy.delay(deliveries)))
            return
        await _quietly(msg.term())

    async def _read(self, msg: WorkMessage) -> StageCommand | None:
        """The step's command, or None for one no delivery can read (its task is ended)."""
        try:
            return self.step.command.model_validate_json(msg.data)
        except ValidationError:
            pass
        log.error("unreadable %s command dropped", self.step.name)
        try:
            task_id = Message.model_validate_json(msg.data).task_id
        except ValidationError:
            await _quietly(msg.term())
            return None
        error = task_error(ErrorCode.INTERNAL_ERROR, f"the {self.step.name} command is unreadable")
        with contextlib.suppress(Exception):
            await fail_task(
                self._progress_factory(task_id),
                self._publish,
                step=self.step,
                error=error,
                deliveries=_deliveries(msg),
                command=b"",
            )
        await _quietly(msg.term())
        return None

    async def _keep_alive(self, msg: WorkMessage) -> None:
        # Long LLM calls and outages must not outlive ack_wait: tell the server we are working.
        interval = max(self.policy.ack_wait_seconds / 3, 0.1)
        while True:
            await asyncio.sleep(interval)
            await _quietly(msg.in_progress())


async def _quietly(acknowledgement: Awaitable[object]) -> None:
    """An ack, nak or term that may fail (NATS away): the server redelivers then, and every
    step is idempotent."""
    try:
        await acknowledgement
    except Exception as exc:
        log.debug("acknowledgement not delivered: %r", exc)


def _deliveries(msg: WorkMessage) -> int:
    try:
        return int(msg.metadata.num_delivered or 1)
    except Exception:  # a message that is not from JetStream
        return 1
