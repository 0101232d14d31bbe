"""The notifier's review paths without a broker: a review whose deliveries cannot be queued is
still answered, and the sweep queues what a review is owed. (Task events, deliveries, retries
and restarts run against real NATS and PostgreSQL in tests/e2e/test_webhooks.py.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

from contracts.webhooks import DeliverWebhook, event_id
from services.persister.settings import PersisterSettings
from services.persister.webhook_store import Registration
from services.persister.webhooks import SWEEP_SETTLED, SWEEP_WITHIN, WebhookNotifier
from services.telemetry.health import Health

SAVED = {
    "invoice_id": "inv_1",
    "reviews": [{"review_id": "rev_1", "created_at": "2026-12-01T10:00:00+00:00"}],
}


class Store:
    def __init__(self, registrations: list[Registration], failing: bool = False) -> None:
        self._registrations = registrations
        self.failing = failing
        self.recorded: list[DeliverWebhook] = []
        self.asked: list[tuple[dt.timedelta, dt.timedelta]] = []

    async def registrations(self) -> list[Registration]:
        return self._registrations

    async def record_delivery(self, delivery: DeliverWebhook) -> bool:
        if self.failing:
            raise ConnectionError("the database does not answer")
        self.recorded.append(delivery)
        return True

    async def unqueued_reviews(
        self, within: dt.timedelta, settled: dt.timedelta
    ) -> list[tuple[str, str, str]]:
        self.asked.append((within, settled))
        return [("acme", "inv_1", "rev_1")]


class JetStream:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, str]]] = []

    async def publish(self, subject: str, payload: bytes, **options: Any) -> None:
        self.published.append((subject, options["headers"]))


def notifier(store: Store, js: JetStream) -> WebhookNotifier:
    settings = PersisterSettings(database_url="postgresql://unused")
    return WebhookNotifier(settings, None, js, store, Health(("nats",)))  # type: ignore[arg-type]


REVIEWS = [Registration("wh_1", "acme", frozenset({"invoice.reviewed"}))]


async def test_a_review_is_queued_with_its_delivery_id_as_message_id() -> None:
    store, js = Store(REVIEWS), JetStream()
    await notifier(store, js).invoice_reviewed("acme", SAVED)
    [delivery] = store.recorded
    assert delivery.event_id == event_id("rev_1")
    assert js.published == [("webhooks.deliver", {"Nats-Msg-Id": delivery.delivery_id})]


async def test_a_review_whose_deliveries_cannot_be_queued_is_still_answered() -> None:
    store, js = Store(REVIEWS, failing=True), JetStream()
    await notifier(store, js).invoice_reviewed("acme", SAVED)  # does not raise
    assert js.published == []


async def test_the_sweep_queues_what_recent_reviews_are_owed() -> None:
    store, js = Store(REVIEWS), JetStream()
    read: list[tuple[str, str]] = []

    async def read_invoice(tenant: str, invoice_id: str) -> dict[str, Any] | None:
        read.append((tenant, invoice_id))
        return SAVED

    assert await notifier(store, js).sweep_reviews_once(read_invoice) == 1
    assert read == [("acme", "inv_1")] and store.asked == [(SWEEP_WITHIN, SWEEP_SETTLED)]
    assert [d.event_id for d in store.recorded] == [event_id("rev_1")]


async def test_without_review_webhooks_the_sweep_reads_nothing() -> None:
    store, js = Store([]), JetStream()

    async def read_invoice(tenant: str, invoice_id: str) -> dict[str, Any] | None:
        raise AssertionError("not read")

    assert await notifier(store, js).sweep_reviews_once(read_invoice) == 0
    assert store.asked == []
