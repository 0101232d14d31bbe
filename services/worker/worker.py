"""The wiring every work step shares: declare the streams and its consumer, run its handler on
the messages it pulls, end exhausted tasks, serve health and metrics, and drain on SIGTERM.

    worker = Worker(settings, EXTRACT)      # a step of contracts.pipeline
    worker.handle(pipeline.handle)          # async (ExtractInvoice, StageReport) -> outcome
    await worker.serve()                    # until SIGINT/SIGTERM, then drain and exit

Work messages are pulled by `consumer.PullConsumer` (nats-py) and run by `runner.StageRunner`;
FastStream carries the rest: the connection, request-reply responders and the advisories.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from contracts import StageCommand, Step
from contracts.names import (
    ADVISORY_STREAM,
    WORK_STREAM,
    exhausted_consumer,
    max_deliveries_advisory_subject,
)
from services.messaging import jetstream
from services.messaging.envelopes import Envelope, Publish
from services.messaging.outages import while_nats_away
from services.messaging.progress_log import ProgressLog, ProgressStore
from services.messaging.progress_stream import JetStreamProgressStore
from services.messaging.publisher import jetstream_publisher
from services.process import StoppedWhileStarting, start_unless_stopped
from services.telemetry.health import Health, HealthServer, health_routes
from services.telemetry.metrics import CONSUMER_PENDING
from services.worker.consumer import PullConsumer
from services.worker.exhausted import MaxDeliveriesAdvisory, handle_exhausted
from services.worker.handler import Command, StageHandler
from services.worker.runner import RetryPolicy, StageRunner
from services.worker.settings import WorkerSettings

log = logging.getLogger(__name__)

Responder = TypeVar("Responder", bound=Callable[..., Awaitable[Any]])

# Streams are declared by `Worker.start` (create-or-update), not by FastStream.
ADVISORY_JSTREAM = JStream(name=ADVISORY_STREAM, declare=False)
# How often the consumer's backlog is read for the pending-work gauge.
PENDING_SAMPLE_SECONDS = 10.0


class Worker:
    """One step's process: a broker connection plus the runtime around its handler."""

    def __init__(
        self,
        settings: WorkerSettings,
        step: Step,
        broker: NatsBroker | None = None,
        *,
        dependencies: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings
        self.step = step
        # Per-message access logs at DEBUG: at INFO they cost real CPU at 100 tasks/s.
        self.broker = broker or NatsBroker(
            settings.nats_servers,
            graceful_timeout=15.0,
            log_level=logging.DEBUG,
            # Keep trying, however long NATS is away: readiness says so meanwhile.
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
        )
        self.health = Health(("nats", *dependencies), starting=True)
        self._js: JetStreamContext | None = None
        self._nc: NatsClient | None = None
        self._handler: StageHandler[StageCommand] | None = None
        self._consumer: PullConsumer | None = None
        self._health_server: HealthServer | None = None
        self._background: list[asyncio.Task[None]] = []
        self._publish: Publish | None = None
        # Where progress is kept; tests without a server put a store of their own here.
        self.progress_store: ProgressStore | None = None
        self.policy = RetryPolicy(
            ack_wait_seconds=settings.ack_wait_seconds,
            max_deliver=settings.max_deliver,
            backoff_seconds=settings.retry_backoff_seconds,
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

    @property
    def metrics_port(self) -> int:
        if self._health_server is None:
            raise RuntimeError("no health server")
        return self._health_server.port

    def held(self) -> int:
        """How many work messages this replica holds now (fetched, not yet settled)."""
        return 0 if self._consumer is None else self._consumer.in_flight

    def progress(self, task_id: str) -> ProgressLog:
        return ProgressLog(self.progress_store or JetStreamProgressStore(self.js), task_id)

    async def publish(self, envelope: Envelope) -> None:
        # Straight to JetStream, not through the broker's publisher: the same publish and ack,
        # without FastStream's per-message middleware and serialiser work (a command per stage).
        if self._publish is None:
            self._publish = jetstream_publisher(self.js)
        await self._publish(envelope)

    def handle(self, handler: StageHandler[Command]) -> StageHandler[Command]:
        """The step's handler, run on every message of its durable consumer."""
        # The table says which command a step's subject carries; the handler is written for it.
        self._handler = cast(StageHandler[StageCommand], handler)
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

    # --- running -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.start_health_server()
        connection = await self.broker.connect()
        self._nc = connection
        self._js = js = connection.jetstream()
        await while_nats_away(
            lambda: self._declare(js), f"{self.step.consumer}: declaring streams and consumers"
        )
        await self.broker.start()
        if self._handler is not None:  # without one it only ends exhausted tasks
            await self._start_consumer(js, self._handler)
        self._background.append(asyncio.create_task(self._sample_pending()))
        self.health.started()
        log.info("%s ready on %s", self.step.consumer, self.settings.nats_url)

    async def _declare(self, js: JetStreamContext) -> None:
        await jetstream.declare_pipeline_streams(
            js, self.settings.progress_retention_hours, self.settings.stream_replicas
        )
        await jetstream.declare_work_consumer(
            js,
            durable=self.step.consumer,
            subject=self.step.subject,
            ack_wait_seconds=self.settings.ack_wait_seconds,
            max_deliver=self.settings.max_deliver,
        )
        await jetstream.declare_advisory_consumer(js, self.step.consumer)

    async def _start_consumer(
        self, js: JetStreamContext, handler: StageHandler[StageCommand]
    ) -> None:
        runner = StageRunner(
            self.step,
            handler=handler,
            publish=self.publish,
            progress_factory=self.progress,
            policy=self.policy,
            health=self.health,
        )
        self._consumer = PullConsumer(
            js,
            stream=WORK_STREAM,
            durable=self.step.consumer,
            max_in_flight=self.settings.max_in_flight,
            handle=runner.run,
            on_unavailable=lambda reason: self.health.down("nats", "the message broker is away"),
            on_available=lambda: self.health.up("nats"),
        )
        await self._consumer.start()

    async def start_health_server(self) -> None:
        """Probes are answered from the first moment (not ready while anything is missing)."""
        if self._health_server is not None:
            return
        server = HealthServer(health_routes(self.health), port=self.settings.metrics_port)
        try:
            await server.start()
        except OSError as exc:
            # The work goes on; only probes and scrapes miss this replica. Replicas on one
            # host set their own INVOICEFLOW_METRICS_PORT.
            log.error(
                "cannot serve /healthz, /readyz, /metrics on port %s: %s",
                self.settings.metrics_port,
                exc,
            )
            return
        self._health_server = server

    async def _sample_pending(self) -> None:
        gauge = CONSUMER_PENDING.labels(self.step.consumer)
        while True:
            with contextlib.suppress(Exception):
                info = await self.js.consumer_info(WORK_STREAM, self.step.consumer)
                gauge.set((info.num_pending or 0) + (info.num_ack_pending or 0))
            await asyncio.sleep(PENDING_SAMPLE_SECONDS)

    async def drain(self) -> None:
        """Stop taking work; let what is running finish within the grace, hand back the rest."""
        self.health.drain()
        consumer = self._consumer
        if consumer is None:
            return
        await consumer.stop_fetching()
        if not await consumer.wait_idle(self.settings.drain_seconds):
            log.warning("handing back %d message(s) still running", consumer.in_flight)
            await consumer.cancel_working()

    async def stop(self) -> None:
        try:
            await self.drain()
        finally:
            for task in self._background:
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            self._background.clear()
            await self.broker.stop()
            if self._health_server is not None:
                await self._health_server.stop()
                self._health_server = None

    async def serve(self) -> None:
        """Run until SIGINT or SIGTERM, then drain and stop (and exit 0)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            with contextlib.suppress(StoppedWhileStarting):
                await start_unless_stopped(self.start(), stop)  # a failed start fails the process
                await stop.wait()
            log.info("%s draining", self.step.consumer)
        finally:
            await self.stop()
