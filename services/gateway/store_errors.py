"""The HTTP status of every coded error the invoice store, or asking it, can end with.

The store answers codes, not statuses (it knows nothing of HTTP); this is the one place a code
becomes a status. A code this gateway does not know (a newer persister's) is a bad answer from
upstream: 502.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from contracts.store import StoreErrorCode

UNKNOWN_CODE_STATUS = 502

STORE_ERROR_STATUS: Mapping[str, int] = MappingProxyType(
    {
        # Asking the store failed (services.messaging.requests, service "store").
        "store_unavailable": 503,
        "store_timeout": 504,
        "store_failed": 502,
        # The store refused the request.
        StoreErrorCode.INVALID_CURSOR: 400,
        StoreErrorCode.INVOICE_NOT_FOUND: 404,
        StoreErrorCode.VERSION_CONFLICT: 409,
        StoreErrorCode.INVALID_CORRECTION: 422,
        StoreErrorCode.INVOICE_INVALID: 422,
        StoreErrorCode.INVOICE_NOT_STORABLE: 422,
        StoreErrorCode.VALIDATOR_UNAVAILABLE: 503,
        StoreErrorCode.VALIDATOR_TIMEOUT: 504,
        StoreErrorCode.VALIDATOR_FAILED: 502,
        StoreErrorCode.WEBHOOK_NOT_FOUND: 404,
        StoreErrorCode.TOO_MANY_WEBHOOKS: 409,
        StoreErrorCode.DATABASE_UNAVAILABLE: 503,
        StoreErrorCode.INTERNAL_ERROR: 500,
    }
)


def store_error_status(code: str) -> int:
    return STORE_ERROR_STATUS.get(code, UNKNOWN_CODE_STATUS)
