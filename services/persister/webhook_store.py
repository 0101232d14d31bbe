"""Webhook registrations and delivery records in PostgreSQL (asyncpg; knows nothing of NATS).

Every read and write names the tenant ("" for an open deployment), so one tenant never sees or
changes another's webhooks. A delivery row is created once per (webhook, event), whatever
happens to the event on its way; each attempt updates it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import asyncpg

from contracts.webhooks import (
    MAX_WEBHOOKS_PER_TENANT,
    CreatedWebhook,
    CreateWebhook,
    DeliverWebhook,
    Delivery,
    Webhook,
)

_WEBHOOK_COLUMNS = "id, url, events, description, created_at"
_DELIVERY_COLUMNS = (
    "id, event_id, event_type AS type, status, attempts, last_status_code, last_error, "
    "next_attempt_at, delivered_at, created_at"
)


class TooManyWebhooksError(Exception):
    """The tenant has `MAX_WEBHOOKS_PER_TENANT` registrations already."""


@dataclass(frozen=True)
class Target:
    """Where a delivery goes and what signs it."""

    webhook_id: str
    tenant: str
    url: str
    secret: str


@dataclass(frozen=True)
class Registration:
    """What fanning an event out needs of a registration (cached by every replica)."""

    webhook_id: str
    tenant: str
    events: frozenset[str]


@dataclass(frozen=True)
class Attempt:
    """How one attempt went: a status code, or words for what failed (no answer, refused)."""

    status_code: int | None
    error: str | None
    delivered: bool


def tenant_key(tenant: str | None) -> str:
    return tenant or ""


def new_webhook_id() -> str:
    return f"wh_{secrets.token_hex(16)}"


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _webhook(row: asyncpg.Record) -> Webhook:
    return Webhook.model_validate(dict(row))


class WebhookStore:
    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    async def create(self, request: CreateWebhook) -> CreatedWebhook:
        tenant = tenant_key(request.tenant)
        async with self._pool.acquire() as conn, conn.transaction():
            # One registration at a time per tenant, so the limit holds across replicas.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('webhooks:' || $1))", tenant)
            count = await conn.fetchval("SELECT count(*) FROM webhooks WHERE tenant = $1", tenant)
            if count >= MAX_WEBHOOKS_PER_TENANT:
                raise TooManyWebhooksError
            secret = new_secret()
            row = await conn.fetchrow(
                f"""INSERT INTO webhooks (id, tenant, url, events, description, secret)
                    VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_WEBHOOK_COLUMNS}""",
                new_webhook_id(),
                tenant,
                request.url,
                list(dict.fromkeys(request.events)),
                request.description,
                secret,
            )
        assert row is not None
        return CreatedWebhook.model_validate({**dict(row), "secret": secret})

    async def list_webhooks(self, tenant: str | None) -> list[Webhook]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE tenant = $1
                    ORDER BY created_at, id""",
                tenant_key(tenant),
            )
        return [_webhook(row) for row in rows]

    async def delete(self, tenant: str | None, webhook_id: str) -> bool:
        async with self._pool.acquire() as conn:
            status = await conn.execute(
                "DELETE FROM webhooks WHERE tenant = $1 AND id = $2", tenant_key(tenant), webhook_id
            )
        return status == "DELETE 1"

    async def deliveries(self, tenant: str | None, webhook_id: str, limit: int) -> list[Delivery]:
        """The webhook's last deliveries, newest first; raises LookupError for no such webhook."""
        async with self._pool.acquire() as conn:
            found = await conn.fetchval(
                "SELECT 1 FROM webhooks WHERE tenant = $1 AND id = $2",
                tenant_key(tenant),
                webhook_id,
            )
            if found is None:
                raise LookupError(webhook_id)
            rows = await conn.fetch(
                f"""SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1
                    ORDER BY created_at DESC, id DESC LIMIT $2""",
                webhook_id,
                limit,
            )
        return [Delivery.model_validate(dict(row)) for row in rows]

    async def registrations(self) -> list[Registration]:
        """Every registration (id, tenant, events): what the fan-out's cache holds."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT id, tenant, events FROM webhooks")
        return [Registration(row["id"], row["tenant"], frozenset(row["events"])) for row in rows]

    async def record_delivery(self, delivery: DeliverWebhook) -> bool:
        """The delivery's row, once; False when its webhook is gone."""
        async with self._pool.acquire() as conn:
            status = await conn.execute(
                """INSERT INTO webhook_deliveries
                       (id, webhook_id, tenant, event_id, event_type, created_at)
                   SELECT $1, id, tenant, $3, $4, $5 FROM webhooks WHERE id = $2
                   ON CONFLICT (id) DO NOTHING""",
                delivery.delivery_id,
                delivery.webhook_id,
                delivery.event_id,
                delivery.type,
                delivery.created_at,
            )
            if status != "INSERT 0 0":
                return True
            gone = await conn.fetchval("SELECT 1 FROM webhooks WHERE id = $1", delivery.webhook_id)
        return gone is not None

    async def unqueued_reviews(
        self, within: dt.timedelta, settled: dt.timedelta
    ) -> list[tuple[str, str, str]]:
        """(tenant, invoice_id, review_id) of reviews made between `within` and `settled` ago
        that a webhook registered before them wants but has no delivery for: their deliveries
        were never queued (the persister stopped between saving the review and queueing)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT DISTINCT i.tenant, i.id AS invoice_id, r.id AS review_id
                   FROM invoice_reviews r
                   JOIN invoices i ON i.id = r.invoice_id
                   JOIN webhooks w ON w.tenant = i.tenant AND w.created_at <= r.created_at
                        AND 'invoice.reviewed' = ANY (w.events)
                   WHERE r.created_at > now() - $1::interval
                     AND r.created_at < now() - $2::interval
                     AND NOT EXISTS (
                       SELECT 1 FROM webhook_deliveries d
                       WHERE d.webhook_id = w.id AND d.event_id = 'evt_' ||
                             left(encode(sha256(convert_to(r.id, 'UTF8')), 'hex'), 32))""",
                within,
                settled,
            )
        return [(row["tenant"], row["invoice_id"], row["review_id"]) for row in rows]

    async def pending(self, delivery_id: str) -> tuple[Target, int] | None:
        """The target of a delivery still to be made and its attempts so far; None when it is
        delivered, given up, or its webhook was deleted."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT w.id, w.tenant, w.url, w.secret, d.attempts
                   FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                   WHERE d.id = $1 AND d.status = 'pending'""",
                delivery_id,
            )
        if row is None:
            return None
        target = Target(row["id"], row["tenant"], row["url"], row["secret"])
        return target, int(row["attempts"])

    async def record_attempt(
        self, delivery_id: str, attempt: Attempt, next_attempt_at: dt.datetime | None
    ) -> None:
        """One attempt's outcome; `next_attempt_at` None after a failure: given up."""
        if attempt.delivered:
            status = "delivered"
        else:
            status = "pending" if next_attempt_at is not None else "failed"
        async with self._pool.acquire() as conn:
            await conn.execute(
                """UPDATE webhook_deliveries SET
                       attempts = attempts + 1, status = $2, last_status_code = $3,
                       last_error = $4, next_attempt_at = $5, updated_at = now(),
                       delivered_at = CASE WHEN $2 = 'delivered' THEN now() END
                   WHERE id = $1 AND status = 'pending'""",
                delivery_id,
                status,
                attempt.status_code,
                attempt.error,
                next_attempt_at,
            )
