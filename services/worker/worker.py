"""The wiring every work step shares: declare the streams and its consumer, subscribe its
handler with manual acks and bounded concurrency, end exhausted tasks, run until SIGINT/SIGTERM.

    worker = Worker(settings, EXTRACT)      # a step of contracts.pipeline
    worker.handle(pipeline.handle)          # async (ExtractInvoice, StageReport) -> outcome
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from pydantic import ValidationError

from contracts import Message, Step, task_error
from contracts.errors import ErrorCode
from contracts.names import (
    ADVISORY_STREAM,
    WORK_STREAM,
    exhausted_consumer,
    max_deliveries_advisory_subject,
)
from services.messaging import jetstream
from services.messaging.envelopes import Envelope
from services.messaging.progress_log import ProgressLog, ProgressStore
from services.messaging.progress_stream import JetStreamProgressStore
from services.worker.exhausted import MaxDeliveriesAdvisory, handle_exhausted
from services.worker.handler import Command, StageHandler
from services.worker.outcomes import fail_task
from services.worker.runner import RetryPolicy, StageRunner
from services.worker.settings import WorkerSettings

log = logging.getLogger(__name__)

Responder = TypeVar("Responder", bound=Callable[..., Awaitable[Any]])

# Streams are declared by `Worker.start` (create-or-update), not by FastStream.
WORK_JSTREAM = JStream(name=WORK_STREAM, declare=False)
ADVISORY_JSTREAM = JStream(name=ADVISORY_STREAM, declare=False)


class Worker:
    """One step's process: a FastStream broker plus the runtime around its handler."""

    def __init__(self, settings: WorkerSettings, step: Step, broker: NatsBroker | None = None):
        self.settings = settings
        self.step = step
        # Per-message access logs at DEBUG: at INFO they cost real CPU at 100 tasks/s.
        self.broker = broker or NatsBroker(
            settings.nats_servers, graceful_timeout=15.0, log_level=logging.DEBUG
        )
        self._js: JetStreamContext | None = None
        self._nc: NatsClient | None = None
        # Where progress is kept; tests without a server put a store of their own here.
        self.progress_store: ProgressStore | None = None
        self.policy = RetryPolicy(
            ack_wait_seconds=settings.ack_wait_seconds,
            max_deliver=settings.max_deliver,
            backoff_seconds=settings.retry_backoff_seconds,
        )
        self.runner = StageRunner(step, self.publish, self.progress, self.policy)
        self._register_exhausted()

    @property
    def nc(self) -> NatsClient:
        if self._nc is None:
            raise RuntimeError("worker not started")
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("worker not started")
        return self._js

    def progress(self, task_id: str) -> ProgressLog:
        return ProgressLog(self.progress_store or JetStreamProgressStore(self.js), task_id)

    async def publish(self, envelope: Envelope) -> None:
        await self.broker.publish(
            envelope.body, envelope.subject, headers=envelope.headers, stream=envelope.stream
        )

    def current_message(self) -> NatsMessage:
        """The message the calling handler is handling.

        Read from FastStream's context instead of injected as a `msg: NatsMessage` parameter:
        fast_depends resolves injected context in a thread pool, one thread hop per message.
        """
        message = self.broker.context.get_local("message")
        if message is None:
            raise RuntimeError("no message is being handled")
        return cast(NatsMessage, message)

    def handle(self, handler: StageHandler[Command]) -> StageHandler[Command]:
        """The step's handler on its durable pull consumer, with manual acks."""
        # The table says which command a step's subject carries; the handler is written for it.
        command_type = cast(type[Command], self.step.command)

        async def on_work_message() -> None:
            msg = self.current_message()
            try:
                command = command_type.model_validate_json(msg.body)
            except ValidationError:
                await self._unreadable(msg)
                return
            await self.runner.run(msg, command, handler)

        self.broker.subscriber(
            self.step.subject,
            stream=WORK_JSTREAM,
            durable=self.step.consumer,
            pull_sub=PullSub(batch_size=1, timeout=5.0),
            max_workers=self.settings.max_in_flight,
            ack_policy=AckPolicy.MANUAL,
        )(on_work_message)
        return handler

    async def _unreadable(self, msg: NatsMessage) -> None:
        """A command no delivery can read: end its task if it names one, and drop it."""
        log.error("unreadable %s command dropped", self.step.name)
        try:
            task_id = Message.model_validate_json(msg.body).task_id
        except ValidationError:
            await msg.reject()
            return
        error = task_error(ErrorCode.INTERNAL_ERROR, f"the {self.step.name} command is unreadable")
        await fail_task(
            self.progress(task_id),
            self.publish,
            step=self.step,
            error=error,
            deliveries=1,
            command=b"",
        )
        await msg.reject()

    def respond(self, subject: str, queue: str) -> Callable[[Responder], Responder]:
        """Decorator: a request-reply handler on core NATS; what it returns is the reply.

        Replicas join one queue group, so each request is answered once.
        """

        def register(handler: Responder) -> Responder:
            self.broker.subscriber(subject, queue=queue, max_workers=self.settings.max_in_flight)(
                handler
            )
            return handler

        return register

    def _register_exhausted(self) -> None:
        async def exhausted(advisory: MaxDeliveriesAdvisory) -> None:
            await handle_exhausted(self.js, self.publish, advisory, step=self.step)

        self.broker.subscriber(
            max_deliveries_advisory_subject(self.step.consumer),
            stream=ADVISORY_JSTREAM,
            durable=exhausted_consumer(self.step.consumer),
            # One per fetch: nats-py times out a multi-message fetch with asyncio's TimeoutError,
            # which FastStream does not expect and logs as a crash of the subscriber every 5 s.
            pull_sub=PullSub(batch_size=1, timeout=5.0),
            ack_policy=AckPolicy.NACK_ON_ERROR,
        )(exhausted)

    async def start(self) -> None:
        connection = await self.broker.connect()
        self._nc = connection
        self._js = connection.jetstream()
        await jetstream.declare_pipeline_streams(
            self._js, self.settings.progress_retention_hours, self.settings.stream_replicas
        )
        await jetstream.declare_work_consumer(
            self._js,
            durable=self.step.consumer,
            subject=self.step.subject,
            ack_wait_seconds=self.settings.ack_wait_seconds,
            max_deliver=self.settings.max_deliver,
        )
        await jetstream.declare_advisory_consumer(self._js, self.step.consumer)
        await self.broker.start()
        log.info("%s ready on %s", self.step.consumer, self.settings.nats_url)

    async def stop(self) -> None:
        await self.broker.stop()

    async def serve(self) -> None:
        """Run until SIGINT or SIGTERM, then finish in-flight messages and stop."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
