"""A review's re-check by the validator over NATS: the report, or the review refused with why
the validator could not be asked (real nats-server; a stand-in validator)."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NatsClient

from contracts import Invoice
from contracts.names import CHECK_INVOICE_SUBJECT
from contracts.store import CheckInvoice
from services.persister import rules_adapter
from services.persister.reviews import StoreRefusedError
from tests.persister.samples import INVOICE, REPORT
from tests.support.responders import answering

REQUEST = CheckInvoice(invoice=Invoice.model_validate(INVOICE), threshold=0.8)


async def test_the_report_is_the_validators(nats_client: NatsClient) -> None:
    await answering(nats_client, CHECK_INVOICE_SUBJECT, REPORT.model_dump_json().encode())

    assert await rules_adapter.check(nats_client, REQUEST, timeout=5) == REPORT


async def test_without_a_validator_the_review_is_refused_as_unavailable(
    nats_client: NatsClient,
) -> None:
    with pytest.raises(StoreRefusedError) as refused:
        await rules_adapter.check(nats_client, REQUEST, timeout=5)

    assert refused.value.code == "validator_unavailable"
    assert refused.value.message == "no validator is running to re-check the invoice"


@pytest.mark.parametrize(
    ("reply", "code", "message"),
    [
        (None, "validator_timeout", "the validator did not answer in time"),
        (b'{"status": "perhaps"}', "validator_failed", "the validator answered nonsense"),
    ],
)
async def test_a_validator_that_fails_to_answer_refuses_the_review(
    nats_client: NatsClient, reply: bytes | None, code: str, message: str
) -> None:
    await answering(nats_client, CHECK_INVOICE_SUBJECT, reply)

    with pytest.raises(StoreRefusedError) as refused:
        await rules_adapter.check(nats_client, REQUEST, timeout=0.3)

    assert (refused.value.code, refused.value.message) == (code, message)
