"""The gateway's side of the invoice store: NATS requests to the persister's queue group.

Saved invoices live in PostgreSQL, which only the persister touches; the gateway asks it and
passes the answer's JSON through unchanged.
"""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NatsClient
from pydantic import BaseModel

from contracts.names import (
    CHECK_CORRECTIONS_SUBJECT,
    COUNT_INVOICES_SUBJECT,
    GET_INVOICE_SUBJECT,
    LIST_INVOICES_SUBJECT,
    LIST_SAVED_INVOICES_SUBJECT,
    REVIEW_INVOICE_SUBJECT,
)
from contracts.store import (
    CheckCorrections,
    CountInvoices,
    GetInvoice,
    ListInvoices,
    ListSavedInvoices,
    ReviewInvoice,
    StoreReply,
)
from services.gateway.errors import ApiError
from services.gateway.store_errors import store_error_status
from services.messaging.requests import RequestFailedError, Service, ask
from services.telemetry.metrics import STORE_REQUEST

STORE = Service(
    name="store",
    unavailable="the invoice store (persister) is not running",
    timeout="the invoice store did not answer in time",
    failed="the invoice store answered nonsense",
)


class InvoiceStore:
    def __init__(self, nc: NatsClient, timeout_seconds: float) -> None:
        self._nc = nc
        self._timeout = timeout_seconds

    async def list(self, request: ListInvoices) -> dict[str, Any]:
        return await self._timed("list", LIST_INVOICES_SUBJECT, request)

    async def list_saved(self, request: ListSavedInvoices) -> dict[str, Any]:
        return await self._timed("list_saved", LIST_SAVED_INVOICES_SUBJECT, request)

    @property
    def page_bytes(self) -> int:
        """How much invoice JSON one reply may carry: half of what NATS takes in a message,
        leaving room for the reply's envelope and its escaping."""
        return self._nc.max_payload // 2

    async def get(self, request: GetInvoice) -> dict[str, Any]:
        return await self._timed("get", GET_INVOICE_SUBJECT, request)

    async def review(self, request: ReviewInvoice) -> dict[str, Any]:
        return await self._timed("review", REVIEW_INVOICE_SUBJECT, request)

    async def count(self, request: CountInvoices) -> dict[str, Any]:
        return await self._timed("count", COUNT_INVOICES_SUBJECT, request)

    async def check(self, request: CheckCorrections) -> dict[str, Any]:
        return await self._timed("check", CHECK_CORRECTIONS_SUBJECT, request)

    async def ask(self, operation: str, subject: str, request: BaseModel) -> dict[str, Any]:
        """Any other request to the store (webhooks): its answer's data, or an ApiError."""
        return await self._timed(operation, subject, request)

    async def _timed(self, operation: str, subject: str, request: BaseModel) -> dict[str, Any]:
        with STORE_REQUEST.labels(operation).time():
            return await self._ask(subject, request)

    async def _ask(self, subject: str, request: BaseModel) -> dict[str, Any]:
        try:
            reply = await ask(
                self._nc, subject, request, StoreReply, timeout=self._timeout, service=STORE
            )
        except RequestFailedError as exc:
            raise ApiError(store_error_status(exc.code), exc.code, exc.message) from exc
        if reply.error is not None:
            error = reply.error
            details = None
            if error.issues is not None:
                details = {"issues": [issue.model_dump(mode="json") for issue in error.issues]}
            raise ApiError(
                store_error_status(error.code), error.code, error.message, details=details
            )
        return reply.data or {}
