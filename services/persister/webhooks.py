"""Adapter: webhooks on NATS. Turns task endings and reviews into deliveries on the webhooks
work-queue stream, and makes each delivery until it succeeds or its retry window is over.

- `webhook_task_events`, a durable on the progress stream, passes over every update that does
  not end a task without parsing it, and over the ending of a task whose tenant has no webhook
  for it after a cached lookup; otherwise it records one delivery per registration and queues it.
- `webhook_deliveries`, a durable on the webhooks stream shared by every replica, attempts each
  delivery; a failed attempt is recorded and its message handed back with `nak(delay=…)`, the
  wait of the retry schedule, so it survives any restart and any replica may make the next one.
- A registration created or deleted is announced on `webhooks.changed`, so every replica's
  cache of them is dropped (the requests themselves are answered in `app.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ValidationError

from contracts import TaskRecord, TaskUpdated
from contracts.names import (
    PROGRESS_STREAM,
    PROGRESS_WILDCARD,
    WEBHOOK_DELIVER_SUBJECT,
    WEBHOOK_DELIVERY_CONSUMER,
    WEBHOOK_TASK_EVENTS_CONSUMER,
    WEBHOOKS_CHANGED_SUBJECT,
    WEBHOOKS_STREAM,
)
from contracts.streams import WEBHOOKS
from contracts.webhooks import (
    INVOICE_REVIEWED,
    DeliverWebhook,
)
from services.egress.post import Poster
from services.messaging.jetstream import declare_stream, tasks_bucket
from services.messaging.outages import while_nats_away
from services.persister.database import is_database_unavailable
from services.persister.settings import PersisterSettings
from services.persister.webhook_delivery import RetrySchedule, attempt
from services.persister.webhook_events import review_deliveries, task_deliveries, terminal_event
from services.persister.webhook_registry import Registrations
from services.persister.webhook_store import WebhookStore
from services.telemetry.health import Health
from services.worker.consumer import PullConsumer

log = logging.getLogger(__name__)

Request = TypeVar("Request", bound=BaseModel)

# Room for every delivery waiting for its next attempt: a nak'd message stays pending.
MAX_PENDING_DELIVERIES = 100_000
# Ending tasks that wait to be turned into deliveries (an outage of PostgreSQL holds them).
MAX_PENDING_EVENTS = 10_000
EVENTS_BATCH = 256
# Reviews whose deliveries were not queued (a crash right after the review was saved) are found
# by a sweep every minute, among those made between an hour and half a minute ago.
SWEEP_SECONDS = 60.0
SWEEP_WITHIN = dt.timedelta(hours=1)
SWEEP_SETTLED = dt.timedelta(seconds=30)
# `read_invoice(tenant, invoice_id)`: the saved invoice's JSON, or None.
ReadInvoice = Callable[[str, str], Awaitable[dict[str, Any] | None]]
FETCH_SECONDS = 1.0
# A delivery that cannot even be attempted (PostgreSQL away) or an event that cannot be queued.
HOLD_SECONDS = 5.0
DRAIN_SECONDS = 15.0


class WebhookNotifier:
    def __init__(
        self,
        settings: PersisterSettings,
        nc: NatsClient,
        js: JetStreamContext,
        store: WebhookStore,
        health: Health,
        *,
        read_invoice: ReadInvoice | None = None,
    ) -> None:
        self._settings = settings
        self._nc = nc
        self._js = js
        self._store = store
        self._health = health
        self._read_invoice = read_invoice
        self.registrations = Registrations(store.registrations)
        self.schedule = RetrySchedule(
            base_seconds=settings.webhook_retry_base_seconds,
            max_seconds=settings.webhook_retry_max_seconds,
            window_seconds=settings.webhook_retry_hours * 3600,
        )
        self._poster = Poster(settings.fetch_allowed_hosts, settings.webhook_timeout_seconds)
        self._tasks: KeyValue | None = None
        self._consumers: list[PullConsumer] = []
        self._subscriptions: list[Subscription] = []
        self._events_loop: asyncio.Task[None] | None = None
        self._sweeping: asyncio.Task[None] | None = None
        self._stopping = False

    # --- running -----------------------------------------------------------------------------

    async def start(self) -> None:
        settings, js = self._settings, self._js
        self._tasks = await while_nats_away(
            lambda: self._declare(js), "webhooks: declaring the stream and consumers"
        )
        self._subscriptions.append(
            await self._nc.subscribe(WEBHOOKS_CHANGED_SUBJECT, cb=self._on_changed)
        )
        events = await js.pull_subscribe_bind(
            durable=WEBHOOK_TASK_EVENTS_CONSUMER, stream=PROGRESS_STREAM
        )
        self._events_loop = asyncio.create_task(self._follow_task_events(events))
        if self._read_invoice is not None:
            self._sweeping = asyncio.create_task(self._sweep_reviews(self._read_invoice))
        consumer = PullConsumer(
            js,
            stream=WEBHOOKS_STREAM,
            durable=WEBHOOK_DELIVERY_CONSUMER,
            max_in_flight=settings.webhook_max_in_flight,
            handle=self._on_delivery,
            on_unavailable=lambda reason: self._health.down("nats", "the message broker is away"),
            on_available=lambda: self._health.up("nats"),
        )
        await consumer.start()
        self._consumers.append(consumer)

    async def _declare(self, js: JetStreamContext) -> KeyValue:
        settings = self._settings
        await declare_stream(js, WEBHOOKS, settings.stream_replicas)
        tasks = await tasks_bucket(js, settings.progress_retention_hours, settings.stream_replicas)
        await js.add_consumer(
            WEBHOOKS_STREAM,
            ConsumerConfig(
                durable_name=WEBHOOK_DELIVERY_CONSUMER,
                filter_subject=WEBHOOK_DELIVER_SUBJECT,
                ack_policy=AckPolicy.EXPLICIT,
                # An attempt takes at most the timeout; the rest is PostgreSQL.
                ack_wait=settings.webhook_timeout_seconds + 20,
                max_deliver=-1,  # the retry window ends a delivery, not a count
                max_ack_pending=MAX_PENDING_DELIVERIES,
            ),
        )
        await js.add_consumer(
            PROGRESS_STREAM,
            ConsumerConfig(
                durable_name=WEBHOOK_TASK_EVENTS_CONSUMER,
                filter_subject=PROGRESS_WILDCARD,
                # From when webhooks first ran on this stream; a durable keeps its place after.
                deliver_policy=DeliverPolicy.NEW,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30,
                max_deliver=-1,
                max_ack_pending=MAX_PENDING_EVENTS,
            ),
        )
        return tasks

    async def stop(self) -> None:
        """Take nothing more; let running attempts finish (briefly), hand back the rest."""
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        self._subscriptions.clear()
        self._stopping = True
        if self._sweeping is not None:
            self._sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeping
        if self._events_loop is not None:
            # Ends after its batch (at most one fetch): what it did not take stays in the stream.
            await asyncio.wait({self._events_loop}, timeout=DRAIN_SECONDS)
            self._events_loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._events_loop
        await asyncio.gather(*(consumer.stop_fetching() for consumer in self._consumers))
        for consumer in self._consumers:
            if not await consumer.wait_idle(DRAIN_SECONDS):
                await consumer.cancel_working()
        self._consumers.clear()
        await self._poster.aclose()

    # --- registrations changed ---------------------------------------------------------------

    @property
    def store(self) -> WebhookStore:
        return self._store

    async def changed(self) -> None:
        """A registration was created or deleted: every replica reloads who wants what."""
        self.registrations.invalidate()
        await self._nc.publish(WEBHOOKS_CHANGED_SUBJECT, b"")

    async def _on_changed(self, msg: Msg) -> None:
        self.registrations.invalidate()

    # --- events -> deliveries ----------------------------------------------------------------

    async def invoice_reviewed(self, tenant: str | None, saved: dict[str, Any]) -> None:
        """After a review is saved: its deliveries, queued before the review is answered. A
        failure here leaves them to the sweep; the review stands and is answered."""
        try:
            registrations = await self.registrations.wanting(INVOICE_REVIEWED)
            if registrations:
                await self._enqueue(review_deliveries(registrations, tenant, saved))
        except Exception:
            log.warning("a review's webhook deliveries were not queued now; the sweep will")

    async def sweep_reviews_once(self, read_invoice: ReadInvoice) -> int:
        """Queue the deliveries of recent reviews that have none (see `unqueued_reviews`);
        how many reviews were found."""
        if not await self.registrations.wanting(INVOICE_REVIEWED):
            return 0
        found = await self._store.unqueued_reviews(SWEEP_WITHIN, SWEEP_SETTLED)
        for tenant, invoice_id, review_id in found:
            saved = await read_invoice(tenant, invoice_id)
            if saved is None:
                continue
            registrations = await self.registrations.wanting(INVOICE_REVIEWED)
            await self._enqueue(review_deliveries(registrations, tenant, saved, review_id))
        return len(found)

    async def _sweep_reviews(self, read_invoice: ReadInvoice) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                if found := await self.sweep_reviews_once(read_invoice):
                    log.warning("queued the webhook deliveries of %d review(s) late", found)
            except Exception as exc:
                if not is_database_unavailable(exc):
                    log.exception("the sweep for reviews without webhook deliveries failed")

    async def _follow_task_events(self, subscription: JetStreamContext.PullSubscription) -> None:
        """Batches of progress updates, handled in the loop: most are acknowledged at once
        (not an ending, or nobody wants it); the endings someone wants are handled together."""
        failures = 0
        while not self._stopping:
            try:
                messages = await subscription.fetch(EVENTS_BATCH, timeout=FETCH_SECONDS)
            except TimeoutError:
                continue
            except (nats.errors.Error, OSError):
                failures += 1
                self._health.down("nats", "the message broker is away")
                await asyncio.sleep(min(0.25 * failures, 2.0))
                continue
            failures = 0
            self._health.up("nats")
            try:
                await self._handle_batch(messages)
            except (nats.errors.Error, OSError):
                # An ack lost with the connection: the message comes again after ack_wait.
                log.warning("acknowledging progress updates failed; they will come again")
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()

    async def _handle_batch(self, messages: list[Msg]) -> None:
        wanted = []
        for msg in messages:
            if await self._passed_over(msg):
                await msg.ack()
            else:
                wanted.append(self._on_progress(msg))
        if wanted:
            await asyncio.gather(*wanted)

    async def _passed_over(self, msg: Msg) -> bool:
        """Not an ending, or an ending nobody has a webhook for (a lookup that fails is left
        to `_on_progress`, which retries it)."""
        event = terminal_event(msg.data)
        if event is None:
            return True
        try:
            return not await self.registrations.wanting(event)
        except Exception:
            return False

    async def _on_progress(self, msg: Msg) -> None:
        event = terminal_event(msg.data)
        try:
            if event is not None:
                await self._task_ended(event, msg.data)
        except Exception as exc:
            if not is_database_unavailable(exc):
                log.exception("turning a task's end into webhook deliveries failed")
            await msg.nak(delay=HOLD_SECONDS)
            return
        await msg.ack()

    async def _task_ended(self, event: str, data: bytes) -> None:
        registrations = await self.registrations.wanting(event)
        if not registrations:
            return
        update = TaskUpdated.model_validate_json(data)
        record = await self._task_record(update.task_id)
        if record is None:
            log.warning("no task record for %s: its webhooks are not sent", update.task_id)
            return
        await self._enqueue(task_deliveries(registrations, record, update))

    async def _task_record(self, task_id: str) -> TaskRecord | None:
        assert self._tasks is not None
        try:
            entry = await self._tasks.get(task_id)
        except NotFoundError:
            return None
        return TaskRecord.model_validate_json(entry.value or b"")

    async def _enqueue(self, deliveries: list[DeliverWebhook]) -> None:
        for delivery in deliveries:
            if not await self._store.record_delivery(delivery):
                continue  # the webhook was deleted meanwhile
            await self._js.publish(
                WEBHOOK_DELIVER_SUBJECT,
                delivery.model_dump_json().encode(),
                stream=WEBHOOKS_STREAM,
                headers={"Nats-Msg-Id": delivery.delivery_id},
            )

    # --- deliveries --------------------------------------------------------------------------

    async def _on_delivery(self, msg: Msg) -> None:
        try:
            delivery = DeliverWebhook.model_validate_json(msg.data)
        except ValidationError:
            log.error("dropping a webhook delivery message that is not a DeliverWebhook")
            await msg.term()
            return
        try:
            retry_in = await self._deliver(delivery)
        except Exception as exc:
            if not is_database_unavailable(exc):
                log.exception("webhook delivery %s could not be attempted", delivery.delivery_id)
            await msg.nak(delay=HOLD_SECONDS)
            return
        if retry_in is None:
            await msg.ack()
        else:
            await msg.nak(delay=max(retry_in, 0.001))

    async def _deliver(self, delivery: DeliverWebhook) -> float | None:
        """Attempt the delivery once; seconds until the next attempt, or None: it is over."""
        pending = await self._store.pending(delivery.delivery_id)
        if pending is None:
            return None  # delivered, given up, or its webhook deleted
        target, attempts = pending
        outcome = await attempt(
            self._poster,
            target.url,
            delivery_id=delivery.delivery_id,
            secret=target.secret,
            body=delivery.body.encode(),
            now=time.time(),
        )
        now = dt.datetime.now(dt.UTC)
        next_at = (
            None
            if outcome.delivered
            else self.schedule.next_attempt(delivery.created_at, attempts + 1, now)
        )
        await self._store.record_attempt(delivery.delivery_id, outcome, next_at)
        if outcome.delivered:
            log.info("webhook delivery %s delivered", delivery.delivery_id)
            return None
        if next_at is None:
            log.warning("webhook delivery %s given up: %s", delivery.delivery_id, outcome.error)
            return None
        return (next_at - now).total_seconds()
