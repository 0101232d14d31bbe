"""The store's answers to webhook requests: data, or a coded error in words."""

from __future__ import annotations

import asyncpg
import pytest

from contracts.store import StoreErrorCode
from contracts.webhooks import (
    MAX_WEBHOOKS_PER_TENANT,
    CreateWebhook,
    DeleteWebhook,
    ListDeliveries,
    ListWebhooks,
)
from services.persister import webhook_answers
from services.persister.migrations import migrate
from services.persister.webhook_store import WebhookStore


@pytest.fixture
async def store(pool: asyncpg.Pool[asyncpg.Record]) -> WebhookStore:
    await migrate(pool)
    return WebhookStore(pool)


class Changes:
    count = 0

    async def changed(self) -> None:
        self.count += 1


CREATE = CreateWebhook(tenant="acme", url="https://hooks.example/a", events=("task.failed",))


async def test_create_list_delete_and_every_change_is_announced(store: WebhookStore) -> None:
    changes = Changes()
    created = await webhook_answers.create(store, CREATE, changes.changed)
    assert created.error is None and created.data is not None and created.data["secret"]
    webhook_id = created.data["id"]
    listed = await webhook_answers.list_webhooks(store, ListWebhooks(tenant="acme"))
    assert listed.data == {"items": [{k: v for k, v in created.data.items() if k != "secret"}]}
    deleted = await webhook_answers.delete(
        store, DeleteWebhook(tenant="acme", webhook_id=webhook_id), changes.changed
    )
    assert deleted.error is None and changes.count == 2


async def test_unknown_webhooks_and_too_many_are_refused_in_words(store: WebhookStore) -> None:
    changes = Changes()
    missing = await webhook_answers.delete(
        store, DeleteWebhook(tenant="acme", webhook_id="wh_x"), changes.changed
    )
    assert missing.error is not None and missing.error.code == StoreErrorCode.WEBHOOK_NOT_FOUND
    listing = await webhook_answers.deliveries(
        store, ListDeliveries(tenant="acme", webhook_id="wh_x")
    )
    assert listing.error is not None and listing.error.code == StoreErrorCode.WEBHOOK_NOT_FOUND
    for _ in range(MAX_WEBHOOKS_PER_TENANT):
        await webhook_answers.create(store, CREATE, changes.changed)
    refused = await webhook_answers.create(store, CREATE, changes.changed)
    assert refused.error is not None and refused.error.code == StoreErrorCode.TOO_MANY_WEBHOOKS
    assert "at most" in refused.error.message
    assert changes.count == MAX_WEBHOOKS_PER_TENANT
