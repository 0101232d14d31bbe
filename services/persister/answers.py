"""The store's answers to the gateway's requests: a `StoreReply` with data or a coded error.

Knows nothing of NATS; `app.py` subscribes these to their subjects.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from pydantic import BaseModel

from contracts.store import (
    CheckCorrections,
    CountInvoices,
    GetInvoice,
    ListInvoices,
    ListSavedInvoices,
    ReviewInvoice,
    StoreError,
    StoreErrorCode,
    StoreReply,
)
from services.persister.database import is_database_unavailable
from services.persister.paging import CursorError
from services.persister.repository import Repository
from services.persister.reviews import (
    Check,
    StoreRefusedError,
    check_corrections,
    review_invoice,
)

log = logging.getLogger(__name__)


def refused(code: StoreErrorCode, message: str) -> StoreReply:
    return StoreReply(error=StoreError(code=code, message=message))


def failed(exc: Exception, store: str) -> StoreReply:
    """A request of the `store` ("invoice", "webhook") that failed unexpectedly: PostgreSQL is
    away, or something broke. The gateway must hear something: silence would be a timeout."""
    if is_database_unavailable(exc):
        log.warning("%s store request refused: the database does not answer", store)
        return refused(
            StoreErrorCode.DATABASE_UNAVAILABLE, f"the {store} database is not answering"
        )
    log.exception("%s store request failed", store)
    return refused(StoreErrorCode.INTERNAL_ERROR, f"the {store} store failed; try again")


async def _answer(work: Awaitable[BaseModel | None]) -> StoreReply:
    try:
        found = await work
    except StoreRefusedError as exc:
        return StoreReply(error=StoreError(code=exc.code, message=exc.message, issues=exc.issues))
    except CursorError as exc:
        return refused(StoreErrorCode.INVALID_CURSOR, f"cursor: {exc}")
    except Exception as exc:
        return failed(exc, "invoice")
    if found is None:
        return refused(StoreErrorCode.INVOICE_NOT_FOUND, "no such invoice")
    return StoreReply(data=found.model_dump(mode="json"))


async def list_invoices(repository: Repository, request: ListInvoices) -> StoreReply:
    return await _answer(repository.list_invoices(request))


async def list_saved_invoices(repository: Repository, request: ListSavedInvoices) -> StoreReply:
    return await _answer(repository.list_saved_invoices(request))


async def get_invoice(repository: Repository, request: GetInvoice) -> StoreReply:
    return await _answer(repository.get_invoice(request.tenant, request.invoice_id))


async def review(repository: Repository, request: ReviewInvoice, check: Check) -> StoreReply:
    return await _answer(review_invoice(repository, request, check))


async def count_invoices(repository: Repository, request: CountInvoices) -> StoreReply:
    return await _answer(repository.count_invoices(request))


async def check(repository: Repository, request: CheckCorrections, check: Check) -> StoreReply:
    return await _answer(check_corrections(repository, request, check))
