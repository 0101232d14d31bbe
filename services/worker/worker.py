"""The wiring every work stage shares: declare the streams and its consumer, subscribe with
manual acks and bounded concurrency, end exhausted tasks, run until SIGINT/SIGTERM."""

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

from contracts import Stage, StageCommand
from contracts.names import ADVISORY_STREAM, WORK_STREAM, max_deliveries_advisory_subject
from services.messaging import jetstream
from services.messaging.progress_log import ProgressLog
from services.worker.exhausted import MaxDeliveriesAdvisory, handle_exhausted
from services.worker.runner import RetryPolicy, StageRunner, Work
from services.worker.settings import WorkerSettings

log = logging.getLogger(__name__)

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[None]])
Responder = TypeVar("Responder", bound=Callable[..., Awaitable[Any]])

# Streams are declared by `Worker.start` (create-or-update), not by FastStream.
WORK_JSTREAM = JStream(name=WORK_STREAM, declare=False)
ADVISORY_JSTREAM = JStream(name=ADVISORY_STREAM, declare=False)


class Worker:
    """One stage's process: a FastStream broker plus the plumbing around its handler."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        consumer: str,
        subject: str,
        first_stage: Stage,
        broker: NatsBroker | None = None,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.subject = subject
        self.first_stage = first_stage
        # Per-message access logs at DEBUG: at INFO they cost real CPU at 100 tasks/s.
        self.broker = broker or NatsBroker(
            settings.nats_url, graceful_timeout=15.0, log_level=logging.DEBUG
        )
        self._js: JetStreamContext | None = None
        self._nc: NatsClient | None = None
        self.progress_factory: Callable[[str], ProgressLog] = self._real_progress
        self.policy = RetryPolicy(
            ack_wait_seconds=settings.ack_wait_seconds,
            max_deliver=settings.max_deliver,
            backoff_seconds=settings.retry_backoff_seconds,
        )
        self.runner = StageRunner(
            self.broker,
            lambda task_id: self.progress_factory(task_id),  # noqa: PLW0108  late-bound for tests
            consumer=consumer,
            subject=subject,
            first_stage=first_stage,
            policy=self.policy,
        )
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

    def _real_progress(self, task_id: str) -> ProgressLog:
        return ProgressLog(self.js, task_id)

    def current_message(self) -> NatsMessage:
        """The message the calling handler is handling.

        Read from FastStream's context instead of injected as a `msg: NatsMessage` parameter:
        fast_depends resolves injected context in a thread pool, one thread hop per message.
        """
        message = self.broker.context.get_local("message")
        if message is None:
            raise RuntimeError("no message is being handled")
        return cast(NatsMessage, message)

    async def run_stage(self, command: StageCommand, work: Work) -> None:
        """What every handler does: run the stage's work for the message being handled."""
        await self.runner.run(self.current_message(), command, work)

    def subscribe(self, handler: Handler) -> Handler:
        """Decorator: the stage's handler on its durable pull consumer, with manual acks.

        The handler is annotated with its concrete command type and calls `self.runner.run`.
        """
        self.broker.subscriber(
            self.subject,
            stream=WORK_JSTREAM,
            durable=self.consumer,
            pull_sub=PullSub(batch_size=1, timeout=5.0),
            max_workers=self.settings.max_in_flight,
            ack_policy=AckPolicy.MANUAL,
        )(handler)
        return handler

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
            await handle_exhausted(
                self.js,
                self.broker,
                advisory,
                subject=self.subject,
                first_stage=self.first_stage,
            )

        self.broker.subscriber(
            max_deliveries_advisory_subject(self.consumer),
            stream=ADVISORY_JSTREAM,
            durable=f"{self.consumer}_exhausted",
            # One per fetch: nats-py times out a multi-message fetch with asyncio's TimeoutError,
            # which FastStream does not expect and logs as a crash of the subscriber every 5 s.
            pull_sub=PullSub(batch_size=1, timeout=5.0),
            ack_policy=AckPolicy.NACK_ON_ERROR,
        )(exhausted)

    async def start(self) -> None:
        connection = await self.broker.connect()
        self._nc = connection
        self._js = connection.jetstream()
        await jetstream.declare_pipeline_streams(self._js, self.settings.progress_retention_hours)
        await jetstream.declare_work_consumer(
            self._js,
            durable=self.consumer,
            subject=self.subject,
            ack_wait_seconds=self.settings.ack_wait_seconds,
            max_deliver=self.settings.max_deliver,
        )
        await jetstream.declare_advisory_consumer(self._js, self.consumer)
        await self.broker.start()
        log.info("%s ready on %s", self.consumer, self.settings.nats_url)

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
