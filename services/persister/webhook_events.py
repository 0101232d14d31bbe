"""What happened, as webhook deliveries: one `DeliverWebhook` per registration of the tenant
that wants the event. Knows nothing of NATS.

Ids are derived from the cause (a task's terminal update, a review's id), so seeing an event
again (a redelivered update, a repeated request) makes the same deliveries, which the queue's
de-duplication and the delivery table's key keep to one each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from contracts import TaskRecord, TaskUpdated, UpdateType
from contracts.status import task_status
from contracts.webhooks import (
    INVOICE_REVIEWED,
    TASK_COMPLETED,
    TASK_FAILED,
    DeliverWebhook,
    WebhookEvent,
    delivery_id,
    event_body,
    event_id,
)
from services.persister.webhook_store import Registration, tenant_key

# A task's last update says how it ended (cheaply read without parsing the whole update).
TERMINAL_EVENTS: dict[UpdateType, WebhookEvent] = {
    UpdateType.COMPLETE: "task.completed",
    UpdateType.ERROR: "task.failed",
}
assert set(TERMINAL_EVENTS.values()) == {TASK_COMPLETED, TASK_FAILED}


def terminal_event(raw: bytes) -> WebhookEvent | None:
    """The event a progress message is, from its bytes: most are not terminal, and those are
    passed over without being parsed (`"type"` follows the update's ids and time, well within
    its first 256 bytes; a result or error comes after it)."""
    head = raw[:256]
    for type_, event in TERMINAL_EVENTS.items():
        if f'"type":"{type_.value}"'.encode() in head:
            return event
    return None


def fan_out(
    registrations: Iterable[Registration],
    *,
    tenant: str | None,
    type_: WebhookEvent,
    source: str,
    created_at: dt.datetime,
    data: dict[str, Any],
) -> list[DeliverWebhook]:
    event = event_id(source)
    body = event_body(event, type_, created_at, data)
    return [
        DeliverWebhook(
            delivery_id=delivery_id(registration.webhook_id, event),
            webhook_id=registration.webhook_id,
            tenant=registration.tenant,
            event_id=event,
            type=type_,
            body=body,
            created_at=created_at,
        )
        for registration in registrations
        if registration.tenant == tenant_key(tenant) and type_ in registration.events
    ]


def task_deliveries(
    registrations: Iterable[Registration], record: TaskRecord, update: TaskUpdated
) -> list[DeliverWebhook]:
    type_ = TERMINAL_EVENTS.get(update.type)
    if type_ is None:
        return []
    return fan_out(
        registrations,
        tenant=record.tenant,
        type_=type_,
        source=f"{update.task_id}:{update.type.value}",
        created_at=dt.datetime.fromtimestamp(update.timestamp, dt.UTC),
        data=task_status(record, update),
    )


def review_deliveries(
    registrations: Iterable[Registration],
    tenant: str | None,
    saved: dict[str, Any],
    review_id: str | None = None,
) -> list[DeliverWebhook]:
    """`saved` is the invoice as the review answered it (its JSON); the review is `review_id`,
    or its last one."""
    reviews = [
        review
        for review in saved.get("reviews") or []
        if review_id is None or review.get("review_id") == review_id
    ]
    if not reviews:
        return []
    review = reviews[-1]
    return fan_out(
        registrations,
        tenant=tenant,
        type_=INVOICE_REVIEWED,
        source=str(review["review_id"]),
        created_at=dt.datetime.fromisoformat(str(review["created_at"])),
        data=saved,
    )
