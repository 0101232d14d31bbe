"""Webhooks (spec 6): registrations, the events they are sent, and the delivery queue's message.

The gateway asks the store (the persister) to create, list and delete registrations and to list
their deliveries; the answers are `contracts.store.StoreReply`. Registrations and delivery
records live in PostgreSQL; each pending delivery is one `DeliverWebhook` in the webhooks stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TASK_COMPLETED = "task.completed"
TASK_FAILED = "task.failed"
INVOICE_REVIEWED: Literal["invoice.reviewed"] = "invoice.reviewed"
WebhookEvent = Literal["task.completed", "task.failed", "invoice.reviewed"]
WEBHOOK_EVENTS: tuple[str, ...] = (TASK_COMPLETED, TASK_FAILED, INVOICE_REVIEWED)
DeliveryStatus = Literal["pending", "delivered", "failed"]

# Headers of every delivery (spec 6).
WEBHOOK_ID_HEADER = "Invoiceflow-Webhook-Id"
SIGNATURE_HEADER = "Invoiceflow-Signature"

MAX_WEBHOOKS_PER_TENANT = 20
DEFAULT_DELIVERIES = 50
MAX_DELIVERIES = 200


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


def _digest(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:32]


def event_id(source: str) -> str:
    """An event's id, derived from what caused it (`task_…:complete`, a review's id), so an
    event seen twice (a redelivered update, a retried review) is the same event."""
    return f"evt_{_digest(source)}"


def delivery_id(webhook_id: str, event: str) -> str:
    """The delivery of one event to one webhook: `Invoiceflow-Webhook-Id`, the same on every
    attempt and however often the event is seen."""
    return f"whd_{_digest(webhook_id, event)}"


# --- requests -------------------------------------------------------------------------------


class CreateWebhook(_Frozen):
    tenant: str | None = None
    url: str
    events: tuple[WebhookEvent, ...]
    description: str | None = None


class ListWebhooks(_Frozen):
    tenant: str | None = None


class DeleteWebhook(_Frozen):
    tenant: str | None = None
    webhook_id: str


class ListDeliveries(_Frozen):
    tenant: str | None = None
    webhook_id: str
    limit: int = Field(default=DEFAULT_DELIVERIES, ge=1, le=MAX_DELIVERIES)


# --- answers --------------------------------------------------------------------------------


class Webhook(_Frozen):
    """A registration as listed (never with its secret)."""

    id: str
    url: str
    events: tuple[WebhookEvent, ...]
    description: str | None = None
    created_at: dt.datetime


class CreatedWebhook(Webhook):
    """The answer to a registration: the only time the secret is shown."""

    secret: str


class Delivery(_Frozen):
    """One event's delivery to one webhook and how it went so far."""

    id: str
    event_id: str
    type: WebhookEvent
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


# --- the queue ------------------------------------------------------------------------------


class DeliverWebhook(_Frozen):
    """Deliver `body` (the exact bytes every attempt sends) to webhook `webhook_id`."""

    delivery_id: str
    webhook_id: str
    tenant: str
    event_id: str
    type: WebhookEvent
    body: str
    created_at: dt.datetime


def event_body(event: str, type_: str, created_at: dt.datetime, data: dict[str, Any]) -> str:
    """The JSON every delivery of an event POSTs: `{"id","type","created_at","data"}`."""
    envelope = {"id": event, "type": type_, "created_at": created_at.isoformat(), "data": data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
