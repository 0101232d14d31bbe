"""Adapter: the validator as a review asks it (NATS request-reply), the corrected invoice
re-checked by the same rules."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient

from contracts import ValidationReport
from contracts.names import CHECK_INVOICE_SUBJECT
from contracts.store import CheckInvoice, StoreErrorCode
from services.messaging.requests import RequestFailedError, Service, ask
from services.persister.reviews import StoreRefusedError

VALIDATOR = Service(
    name="validator",
    unavailable="no validator is running to re-check the invoice",
    timeout="the validator did not answer in time",
    failed="the validator answered nonsense",
)


async def check(nc: NatsClient, request: CheckInvoice, *, timeout: float) -> ValidationReport:
    """The validator's report, or the review refused with why it could not be had."""
    try:
        return await ask(
            nc, CHECK_INVOICE_SUBJECT, request, ValidationReport, timeout=timeout, service=VALIDATOR
        )
    except RequestFailedError as exc:
        # validator_unavailable, validator_timeout, validator_failed: codes of the store's own.
        raise StoreRefusedError(StoreErrorCode(exc.code), exc.message) from exc
