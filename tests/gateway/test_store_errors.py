"""The store's coded errors as HTTP: the one table of statuses, and `InvoiceStore` raising
them, against a stand-in persister on the session's nats-server (no persister runs there)."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from contracts import ValidationIssue
from contracts.names import LIST_INVOICES_SUBJECT
from contracts.store import ListInvoices, StoreError, StoreErrorCode, StoreReply
from services.gateway.errors import ApiError
from services.gateway.store import STORE, InvoiceStore
from services.gateway.store_errors import STORE_ERROR_STATUS, store_error_status
from services.messaging.requests import Failure
from services.persister.rules_adapter import VALIDATOR
from tests.support.responders import answering

# The statuses clients are answered with (docs/protocol.md, "Limits and errors"); the store
# used to send them itself.
STATUSES = {
    "store_unavailable": 503,
    "store_timeout": 504,
    "store_failed": 502,
    "invalid_cursor": 400,
    "invoice_not_found": 404,
    "version_conflict": 409,
    "invalid_correction": 422,
    "invoice_invalid": 422,
    "invoice_not_storable": 422,
    "validator_unavailable": 503,
    "validator_timeout": 504,
    "validator_failed": 502,
    "webhook_not_found": 404,
    "too_many_webhooks": 409,
    "database_unavailable": 503,
    "internal_error": 500,
}
ISSUE = ValidationIssue(
    code="total_mismatch", field="total", message="does not add up", severity="error"
)


@pytest.mark.parametrize(("code", "status"), sorted(STATUSES.items()))
def test_each_code_has_its_status(code: str, status: int) -> None:
    assert store_error_status(code) == status


def test_the_table_covers_every_code_the_store_or_asking_it_can_end_with() -> None:
    store_codes = set(StoreErrorCode)
    request_codes = {STORE.code(failure) for failure in Failure}
    assert set(STORE_ERROR_STATUS) == store_codes | request_codes == set(STATUSES)
    # The persister refuses a review with the codes of asking the validator: store codes too.
    assert {VALIDATOR.code(failure) for failure in Failure} <= store_codes


def test_an_unknown_code_is_a_bad_answer_from_upstream() -> None:
    assert store_error_status("invoice_on_fire") == 502


async def store_answering(nats_client: NatsClient, reply: bytes | None) -> InvoiceStore:
    """An `InvoiceStore` whose persister answers every list request `reply` (None: never)."""
    await answering(nats_client, LIST_INVOICES_SUBJECT, reply)
    return InvoiceStore(nats_client, timeout_seconds=0.3)


def refusal(**error: Any) -> bytes:
    return StoreReply(error=StoreError.model_validate(error)).model_dump_json().encode()


async def raised_by(store: InvoiceStore) -> ApiError:
    with pytest.raises(ApiError) as raised:
        await store.list(ListInvoices())
    return raised.value


async def test_data_is_passed_through(nats_client: NatsClient) -> None:
    page: dict[str, Any] = {"items": [], "next_cursor": None}
    store = await store_answering(nats_client, StoreReply(data=page).model_dump_json().encode())

    assert await store.list(ListInvoices()) == page


async def test_a_refusal_keeps_its_code_words_and_findings(nats_client: NatsClient) -> None:
    reply = refusal(code="invoice_invalid", message="fix it first", issues=[ISSUE])

    error = await raised_by(await store_answering(nats_client, reply))

    assert (error.status, error.code, error.message) == (422, "invoice_invalid", "fix it first")
    assert error.details == {"issues": [ISSUE.model_dump(mode="json")]}


async def test_a_refusal_with_an_unknown_code_is_502_and_keeps_the_code(
    nats_client: NatsClient,
) -> None:
    reply = refusal(code="invoice_on_fire", message="it is burning")

    error = await raised_by(await store_answering(nats_client, reply))

    assert (error.status, error.code, error.message) == (502, "invoice_on_fire", "it is burning")
    assert error.details is None


async def test_a_status_from_an_older_persister_is_ignored(nats_client: NatsClient) -> None:
    reply = b'{"error": {"status": 500, "code": "version_conflict", "message": "reload"}}'

    error = await raised_by(await store_answering(nats_client, reply))

    assert (error.status, error.code, error.message) == (409, "version_conflict", "reload")


@pytest.mark.parametrize(
    ("reply", "status", "code", "message"),
    [
        (None, 504, "store_timeout", "the invoice store did not answer in time"),
        (b"<html>", 502, "store_failed", "the invoice store answered nonsense"),
    ],
)
async def test_a_store_that_fails_to_answer(
    nats_client: NatsClient, reply: bytes | None, status: int, code: str, message: str
) -> None:
    error = await raised_by(await store_answering(nats_client, reply))

    assert (error.status, error.code, error.message) == (status, code, message)


async def test_no_store_running_is_503(nats_client: NatsClient) -> None:
    error = await raised_by(InvoiceStore(nats_client, timeout_seconds=5))

    assert (error.status, error.code, error.message) == (
        503,
        "store_unavailable",
        "the invoice store (persister) is not running",
    )
