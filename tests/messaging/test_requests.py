"""Request-reply on core NATS: a typed reply or one coded error (real nats-server)."""

from __future__ import annotations

import uuid

import pytest
from nats.aio.client import Client as NatsClient
from pydantic import BaseModel

from services.messaging.requests import Failure, RequestFailedError, Service, ask
from tests.support.responders import answering

ECHO = Service(
    name="echo",
    unavailable="no echo is running",
    timeout="the echo did not answer in time",
    failed="the echo answered nonsense",
)


class Said(BaseModel):
    text: str


class Heard(BaseModel):
    text: str
    times: int


@pytest.fixture
def subject() -> str:
    return f"test.requests.{uuid.uuid4().hex}"


async def failure_of(nats_client: NatsClient, subject: str, timeout: float) -> RequestFailedError:
    with pytest.raises(RequestFailedError) as failed:
        await ask(nats_client, subject, Said(text="hi"), Heard, timeout=timeout, service=ECHO)
    return failed.value


async def test_the_reply_is_read_as_the_reply_type(nats_client: NatsClient, subject: str) -> None:
    await answering(nats_client, subject, b'{"text": "hi", "times": 2, "extra": true}')

    heard = await ask(nats_client, subject, Said(text="hi"), Heard, timeout=5, service=ECHO)

    assert heard == Heard(text="hi", times=2)


async def test_the_request_is_the_body_as_json(nats_client: NatsClient, subject: str) -> None:
    seen = await nats_client.subscribe(subject)
    await nats_client.flush()

    with pytest.raises(RequestFailedError):
        await ask(nats_client, subject, Said(text="hi"), Heard, timeout=0.2, service=ECHO)

    assert Said.model_validate_json((await seen.next_msg(timeout=1)).data) == Said(text="hi")


async def test_nothing_subscribed_is_unavailable(nats_client: NatsClient, subject: str) -> None:
    failed = await failure_of(nats_client, subject, timeout=5)

    assert (failed.failure, failed.code) == (Failure.UNAVAILABLE, "echo_unavailable")
    assert failed.message == str(failed) == "no echo is running"


async def test_no_reply_in_time_is_a_timeout(nats_client: NatsClient, subject: str) -> None:
    await answering(nats_client, subject, None)

    failed = await failure_of(nats_client, subject, timeout=0.2)

    assert (failed.failure, failed.code) == (Failure.TIMEOUT, "echo_timeout")
    assert failed.message == str(failed) == "the echo did not answer in time"


@pytest.mark.parametrize("reply", [b"not json", b'{"text": "hi"}', b""])
async def test_a_reply_that_is_not_the_reply_type_failed(
    nats_client: NatsClient, subject: str, reply: bytes
) -> None:
    await answering(nats_client, subject, reply)

    failed = await failure_of(nats_client, subject, timeout=5)

    assert (failed.failure, failed.code) == (Failure.FAILED, "echo_failed")
    assert failed.message == str(failed) == "the echo answered nonsense"
