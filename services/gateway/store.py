"""The gateway's side of the invoice store: NATS requests to the persister's queue group.

Saved invoices live in PostgreSQL, which only the persister touches; the gateway asks it and
passes the answer's JSON through unchanged.
"""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import BaseModel, ValidationError

from contracts.names import GET_INVOICE_SUBJECT, LIST_INVOICES_SUBJECT, REVIEW_INVOICE_SUBJECT
from contracts.store import GetInvoice, ListInvoices, ReviewInvoice, StoreReply
from services.gateway.errors import ApiError


class InvoiceStore:
    def __init__(self, nc: NatsClient, timeout_seconds: float) -> None:
        self._nc = nc
        self._timeout = timeout_seconds

    async def list(self, request: ListInvoices) -> dict[str, Any]:
        return await self._ask(LIST_INVOICES_SUBJECT, request)

    async def get(self, request: GetInvoice) -> dict[str, Any]:
        return await self._ask(GET_INVOICE_SUBJECT, request)

    async def review(self, request: ReviewInvoice) -> dict[str, Any]:
        return await self._ask(REVIEW_INVOICE_SUBJECT, request)

    async def _ask(self, subject: str, request: BaseModel) -> dict[str, Any]:
        try:
            message = await self._nc.request(
                subject, request.model_dump_json().encode(), timeout=self._timeout
            )
        except NoRespondersError as exc:
            raise ApiError(
                503, "store_unavailable", "the invoice store (persister) is not running"
            ) from exc
        except NatsTimeoutError as exc:
            raise ApiError(
                504, "store_timeout", "the invoice store did not answer in time"
            ) from exc
        try:
            reply = StoreReply.model_validate_json(message.data)
        except ValidationError as exc:
            raise ApiError(502, "store_failed", "the invoice store answered nonsense") from exc
        if reply.error is not None:
            error = reply.error
            details = None
            if error.issues is not None:
                details = {"issues": [issue.model_dump(mode="json") for issue in error.issues]}
            raise ApiError(error.status, error.code, error.message, details=details)
        return reply.data or {}
