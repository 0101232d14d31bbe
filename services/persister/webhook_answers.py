"""The store's answers to the gateway's webhook requests: a `StoreReply` with data or a coded
error. Knows nothing of NATS; `webhooks.py` subscribes these to their subjects."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from contracts.store import StoreErrorCode, StoreReply
from contracts.webhooks import (
    MAX_WEBHOOKS_PER_TENANT,
    CreateWebhook,
    DeleteWebhook,
    ListDeliveries,
    ListWebhooks,
)
from services.persister.answers import failed, refused
from services.persister.webhook_store import TooManyWebhooksError, WebhookStore

log = logging.getLogger(__name__)

NOT_FOUND = "no such webhook"


async def _answer(work: Awaitable[dict[str, Any] | None]) -> StoreReply:
    try:
        data = await work
    except TooManyWebhooksError:
        return refused(
            StoreErrorCode.TOO_MANY_WEBHOOKS,
            f"at most {MAX_WEBHOOKS_PER_TENANT} webhooks per tenant: delete one first",
        )
    except LookupError:
        return refused(StoreErrorCode.WEBHOOK_NOT_FOUND, NOT_FOUND)
    except Exception as exc:
        return failed(exc, "webhook")
    return StoreReply(data=data or {})


async def create(
    store: WebhookStore, request: CreateWebhook, changed: Callable[[], Awaitable[None]]
) -> StoreReply:
    async def work() -> dict[str, Any]:
        created = await store.create(request)
        await changed()
        return created.model_dump(mode="json")

    return await _answer(work())


async def list_webhooks(store: WebhookStore, request: ListWebhooks) -> StoreReply:
    async def work() -> dict[str, Any]:
        found = await store.list_webhooks(request.tenant)
        return {"items": [webhook.model_dump(mode="json") for webhook in found]}

    return await _answer(work())


async def delete(
    store: WebhookStore, request: DeleteWebhook, changed: Callable[[], Awaitable[None]]
) -> StoreReply:
    async def work() -> dict[str, Any]:
        if not await store.delete(request.tenant, request.webhook_id):
            raise LookupError(request.webhook_id)
        await changed()
        return {}

    return await _answer(work())


async def deliveries(store: WebhookStore, request: ListDeliveries) -> StoreReply:
    async def work() -> dict[str, Any]:
        found = await store.deliveries(request.tenant, request.webhook_id, request.limit)
        return {"items": [delivery.model_dump(mode="json") for delivery in found]}

    return await _answer(work())
