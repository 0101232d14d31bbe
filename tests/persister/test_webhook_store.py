"""Webhook registrations and delivery records in real PostgreSQL, scoped by tenant."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from contracts.webhooks import (
    MAX_WEBHOOKS_PER_TENANT,
    CreateWebhook,
    DeliverWebhook,
    WebhookEvent,
    delivery_id,
    event_id,
)
from services.persister.migrations import migrate
from services.persister.repository import Repository, ReviewChange
from services.persister.webhook_store import Attempt, TooManyWebhooksError, WebhookStore
from tests.persister.samples import save_sample

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
REVIEWED: tuple[WebhookEvent, ...] = ("invoice.reviewed",)


@pytest.fixture
async def store(pool: asyncpg.Pool[asyncpg.Record]) -> WebhookStore:
    await migrate(pool)
    return WebhookStore(pool)


def request(tenant: str | None = "acme", url: str = "https://hooks.example/a") -> CreateWebhook:
    return CreateWebhook(tenant=tenant, url=url, events=("task.completed", "task.completed"))


def delivery(webhook_id: str, number: int = 1) -> DeliverWebhook:
    return DeliverWebhook(
        delivery_id=f"whd_{number}",
        webhook_id=webhook_id,
        tenant="acme",
        event_id=f"evt_{number}",
        type="task.completed",
        body="{}",
        created_at=NOW + dt.timedelta(seconds=number),
    )


async def test_registrations_are_the_tenants_own(store: WebhookStore) -> None:
    created = await store.create(request())
    assert created.secret.startswith("whsec_") and created.events == ("task.completed",)
    other = await store.create(request(tenant="other"))
    open_one = await store.create(request(tenant=None))

    assert [w.id for w in await store.list_webhooks("acme")] == [created.id]
    assert [w.id for w in await store.list_webhooks(None)] == [open_one.id]
    assert not hasattr((await store.list_webhooks("acme"))[0], "secret")
    assert not await store.delete("acme", other.id)
    with pytest.raises(LookupError):
        await store.deliveries("acme", other.id, 10)
    assert await store.delete("other", other.id)
    regs = {r.webhook_id: r.tenant for r in await store.registrations()}
    assert regs == {created.id: "acme", open_one.id: ""}


async def test_a_tenant_has_a_bounded_number(store: WebhookStore) -> None:
    for _ in range(MAX_WEBHOOKS_PER_TENANT):
        await store.create(request())
    with pytest.raises(TooManyWebhooksError):
        await store.create(request())
    await store.create(request(tenant="other"))


async def test_a_delivery_is_recorded_once_and_each_attempt_updates_it(
    store: WebhookStore,
) -> None:
    hook = await store.create(request())
    assert await store.record_delivery(delivery(hook.id))
    assert await store.record_delivery(delivery(hook.id))  # seen again: the same row
    pending = await store.pending("whd_1")
    assert pending is not None and pending[1] == 0
    assert pending[0].url == hook.url and pending[0].secret == hook.secret

    later = NOW + dt.timedelta(minutes=1)
    await store.record_attempt("whd_1", Attempt(503, "answered 503", False), later)
    [row] = await store.deliveries("acme", hook.id, 10)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == (
        "pending",
        1,
        503,
        "answered 503",
    )
    assert row.next_attempt_at == later and row.delivered_at is None

    await store.record_attempt("whd_1", Attempt(204, None, True), None)
    [row] = await store.deliveries("acme", hook.id, 10)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)
    assert row.delivered_at is not None and row.next_attempt_at is None
    assert await store.pending("whd_1") is None
    # A late duplicate attempt changes nothing once it is over.
    await store.record_attempt("whd_1", Attempt(500, "answered 500", False), later)
    assert (await store.deliveries("acme", hook.id, 10))[0].attempts == 2


async def test_a_failure_past_the_window_gives_up(store: WebhookStore) -> None:
    hook = await store.create(request())
    await store.record_delivery(delivery(hook.id))
    await store.record_attempt("whd_1", Attempt(None, "no answer within 10 s", False), None)
    [row] = await store.deliveries("acme", hook.id, 10)
    assert row.status == "failed" and await store.pending("whd_1") is None


async def test_deleting_a_webhook_drops_its_deliveries(store: WebhookStore) -> None:
    hook = await store.create(request())
    await store.record_delivery(delivery(hook.id))
    assert await store.delete("acme", hook.id)
    assert await store.pending("whd_1") is None
    assert not await store.record_delivery(delivery(hook.id, 2))


async def test_deliveries_are_listed_newest_first(store: WebhookStore) -> None:
    hook = await store.create(request())
    for number in (1, 2, 3):
        await store.record_delivery(delivery(hook.id, number))
    assert [d.id for d in await store.deliveries("acme", hook.id, 2)] == ["whd_3", "whd_2"]


async def test_reviews_without_deliveries_are_found_until_one_is_recorded(
    pool: asyncpg.Pool[asyncpg.Record], store: WebhookStore
) -> None:
    repository = Repository(pool)
    hook = await store.create(
        CreateWebhook(
            tenant="tenant-a", url="https://hooks.example/a", events=("invoice.reviewed",)
        )
    )
    invoice_id = await save_sample(repository)
    current = await repository.get_invoice("tenant-a", invoice_id)
    assert current is not None
    change = ReviewChange(
        invoice=current.invoice,
        confidence=current.confidence,
        validation=current.validation,
        status="rejected",
        reviewer="rita",
        decision="reject",
        changes=[],
        note=None,
    )
    assert await repository.apply_review(current, change)
    within, settled = dt.timedelta(hours=1), dt.timedelta(seconds=30)
    assert await store.unqueued_reviews(within, settled) == []  # too recent: maybe in flight
    await pool.execute("UPDATE invoice_reviews SET created_at = now() - interval '2 minutes'")
    await pool.execute("UPDATE webhooks SET created_at = now() - interval '3 minutes'")
    [(tenant, found_invoice, review_id)] = await store.unqueued_reviews(within, settled)
    assert (tenant, found_invoice) == ("tenant-a", invoice_id)

    event = event_id(review_id)
    await store.record_delivery(
        DeliverWebhook(
            delivery_id=delivery_id(hook.id, event),
            webhook_id=hook.id,
            tenant="tenant-a",
            event_id=event,
            type="invoice.reviewed",
            body="{}",
            created_at=NOW,
        )
    )
    assert await store.unqueued_reviews(within, settled) == []
    # A webhook registered after the review is not owed it.
    await store.create(
        CreateWebhook(
            tenant="tenant-a", url="https://hooks.example/b", events=("invoice.reviewed",)
        )
    )
    assert await store.unqueued_reviews(within, settled) == []
