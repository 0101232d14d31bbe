"""Wiring of the persister: a worker on `invoices.persist` that owns a PostgreSQL pool, and
sends webhooks (`webhooks.py`).

The pool is opened and the schema migrated before the broker starts consuming, so no handler
ever meets an old schema; the pool is closed after the broker has drained.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from contracts import PersistInvoice, TaskResult, ValidationReport
from contracts.names import (
    CHECK_CORRECTIONS_SUBJECT,
    COUNT_INVOICES_SUBJECT,
    CREATE_WEBHOOK_SUBJECT,
    DELETE_WEBHOOK_SUBJECT,
    GET_INVOICE_SUBJECT,
    LIST_DELIVERIES_SUBJECT,
    LIST_INVOICES_SUBJECT,
    LIST_SAVED_INVOICES_SUBJECT,
    LIST_WEBHOOKS_SUBJECT,
    REVIEW_INVOICE_SUBJECT,
    STORE_QUEUE,
)
from contracts.pipeline import PERSIST
from contracts.store import (
    CheckCorrections,
    CheckInvoice,
    CountInvoices,
    GetInvoice,
    ListInvoices,
    ListSavedInvoices,
    ReviewInvoice,
    StoreReply,
)
from contracts.webhooks import CreateWebhook, DeleteWebhook, ListDeliveries, ListWebhooks
from services.persister import answers, pipeline, rules_adapter, webhook_answers
from services.persister.database import DEPENDENCY, is_database_unavailable
from services.persister.migrations import migrate
from services.persister.repository import Repository
from services.persister.settings import PersisterSettings
from services.persister.webhook_store import WebhookStore
from services.persister.webhooks import WebhookNotifier
from services.worker.handler import StageReport
from services.worker.worker import Worker

log = logging.getLogger(__name__)

PROBE_INTERVAL_SECONDS = 5.0
PROBE_TIMEOUT_SECONDS = 2.0


class PersisterWorker(Worker):
    def __init__(self, settings: PersisterSettings) -> None:
        super().__init__(settings, PERSIST, dependencies=(DEPENDENCY,))
        self.db_settings = settings
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._repository: Repository | None = None
        self._webhooks: WebhookNotifier | None = None

    @property
    def repository(self) -> Repository:
        if self._repository is None:
            raise RuntimeError("persister not started")
        return self._repository

    @property
    def webhooks(self) -> WebhookNotifier:
        if self._webhooks is None:
            raise RuntimeError("persister not started")
        return self._webhooks

    async def start(self) -> None:
        await self.start_health_server()
        pool = await self._open_pool()
        self._pool = pool
        try:
            applied = await migrate(pool)
            log.info("database migrated (applied now: %s)", applied or "nothing")
            self._repository = Repository(pool)
            await super().start()
            self._webhooks = WebhookNotifier(
                self.db_settings,
                self.nc,
                self.js,
                WebhookStore(pool),
                self.health,
                read_invoice=self._read_invoice,
            )
            await self._webhooks.start()
            self._background.append(asyncio.create_task(self._probe_database(pool)))
        except BaseException:
            await self._close_pool()
            raise

    async def _open_pool(self) -> asyncpg.Pool[asyncpg.Record]:
        """The pool, once PostgreSQL answers: a persister started during an outage waits
        (not ready) instead of crash-looping."""
        settings = self.db_settings
        attempt = 0
        while True:
            try:
                pool = await asyncpg.create_pool(
                    settings.database_url,
                    min_size=settings.db_pool_min_size,
                    max_size=settings.db_pool_max_size,
                    command_timeout=settings.db_command_timeout_seconds,
                )
            except Exception as exc:
                if not is_database_unavailable(exc):
                    raise
                self.health.down(DEPENDENCY, "the database does not answer")
                attempt += 1
                await asyncio.sleep(min(0.5 * attempt, PROBE_INTERVAL_SECONDS))
                continue
            self.health.up(DEPENDENCY)
            return pool

    async def _probe_database(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        """Readiness follows PostgreSQL even while no work needs it."""
        while True:
            try:
                async with pool.acquire(timeout=PROBE_TIMEOUT_SECONDS) as conn:
                    await conn.fetchval("SELECT 1", timeout=PROBE_TIMEOUT_SECONDS)
            except Exception as exc:
                if not is_database_unavailable(exc):
                    raise
                self.health.down(DEPENDENCY, "the database does not answer")
            else:
                self.health.up(DEPENDENCY)
            await asyncio.sleep(PROBE_INTERVAL_SECONDS)

    async def _read_invoice(self, tenant: str, invoice_id: str) -> dict[str, Any] | None:
        saved = await self.repository.get_invoice(tenant, invoice_id)
        return None if saved is None else saved.model_dump(mode="json")

    async def check(self, request: CheckInvoice) -> ValidationReport:
        """The validator's verdict on an invoice (a review re-validates through it)."""
        return await rules_adapter.check(
            self.nc, request, timeout=self.db_settings.rules_timeout_seconds
        )

    async def stop(self) -> None:
        try:
            if self._webhooks is not None:
                await self._webhooks.stop()
            await super().stop()
        finally:
            await self._close_pool()

    async def _close_pool(self) -> None:
        pool, self._pool, self._repository = self._pool, None, None
        if pool is not None:
            await pool.close()


def build_worker(settings: PersisterSettings) -> PersisterWorker:
    worker = PersisterWorker(settings)

    @worker.handle
    async def persist(command: PersistInvoice, report: StageReport) -> TaskResult:
        return await pipeline.handle(command, report, worker.repository)

    @worker.respond(LIST_INVOICES_SUBJECT, STORE_QUEUE)
    async def list_invoices(request: ListInvoices) -> StoreReply:
        return await answers.list_invoices(worker.repository, request)

    @worker.respond(GET_INVOICE_SUBJECT, STORE_QUEUE)
    async def get_invoice(request: GetInvoice) -> StoreReply:
        return await answers.get_invoice(worker.repository, request)

    @worker.respond(REVIEW_INVOICE_SUBJECT, STORE_QUEUE)
    async def review(request: ReviewInvoice) -> StoreReply:
        reply = await answers.review(worker.repository, request, worker.check)
        if reply.data is not None:
            await worker.webhooks.invoice_reviewed(request.tenant, reply.data)
        return reply

    @worker.respond(CREATE_WEBHOOK_SUBJECT, STORE_QUEUE)
    async def create_webhook(request: CreateWebhook) -> StoreReply:
        return await webhook_answers.create(worker.webhooks.store, request, worker.webhooks.changed)

    @worker.respond(LIST_WEBHOOKS_SUBJECT, STORE_QUEUE)
    async def list_webhooks(request: ListWebhooks) -> StoreReply:
        return await webhook_answers.list_webhooks(worker.webhooks.store, request)

    @worker.respond(DELETE_WEBHOOK_SUBJECT, STORE_QUEUE)
    async def delete_webhook(request: DeleteWebhook) -> StoreReply:
        return await webhook_answers.delete(worker.webhooks.store, request, worker.webhooks.changed)

    @worker.respond(LIST_DELIVERIES_SUBJECT, STORE_QUEUE)
    async def list_deliveries(request: ListDeliveries) -> StoreReply:
        return await webhook_answers.deliveries(worker.webhooks.store, request)

    serve_workspace_requests(worker)
    return worker


def serve_workspace_requests(worker: PersisterWorker) -> None:
    """What the review workspace adds: counts per status, corrections checked before a review,
    pages of whole invoices for the export."""

    @worker.respond(LIST_SAVED_INVOICES_SUBJECT, STORE_QUEUE)
    async def list_saved_invoices(request: ListSavedInvoices) -> StoreReply:
        return await answers.list_saved_invoices(worker.repository, request)

    @worker.respond(COUNT_INVOICES_SUBJECT, STORE_QUEUE)
    async def count_invoices(request: CountInvoices) -> StoreReply:
        return await answers.count_invoices(worker.repository, request)

    @worker.respond(CHECK_CORRECTIONS_SUBJECT, STORE_QUEUE)
    async def check_corrections(request: CheckCorrections) -> StoreReply:
        return await answers.check(worker.repository, request, worker.check)
