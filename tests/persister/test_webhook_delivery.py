"""Signing, the retry schedule and one attempt of a webhook delivery."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random

import pytest

from services.egress.post import PostOutcome
from services.persister.webhook_delivery import (
    RetrySchedule,
    attempt,
    delivery_headers,
    signature,
)
from services.persister.webhook_store import Attempt

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def test_the_signature_is_an_hmac_of_timestamp_dot_body() -> None:
    body = b'{"id":"evt_1"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1700000000, body) == f"t=1700000000,v1={expected}"


def test_headers_name_the_delivery_and_sign_at_the_attempt() -> None:
    headers = delivery_headers("whd_1", "s3cret", b"{}", now=1700000000.9)
    assert headers["Invoiceflow-Webhook-Id"] == "whd_1"
    assert headers["Invoiceflow-Signature"] == signature("s3cret", 1700000000, b"{}")
    assert headers["Content-Type"] == "application/json"


class Highest(random.Random):
    def random(self) -> float:
        return 0.0


class Lowest(random.Random):
    def random(self) -> float:
        return 1.0


def test_delays_double_up_to_the_cap_less_up_to_half_as_jitter() -> None:
    schedule = RetrySchedule(base_seconds=10, max_seconds=3600)
    assert [schedule.delay(n, Highest()) for n in range(1, 11)] == [
        10,
        20,
        40,
        80,
        160,
        320,
        640,
        1280,
        2560,
        3600,
    ]
    assert schedule.delay(50, Highest()) == 3600
    assert schedule.delay(3, Lowest()) == 20
    draws = [schedule.delay(4) for _ in range(200)]
    assert all(40 <= delay <= 80 for delay in draws) and len(set(draws)) > 1


@pytest.mark.parametrize("rng", [Highest(), Lowest()], ids=["longest", "shortest"])
def test_a_failing_delivery_is_retried_for_at_least_the_window(rng: random.Random) -> None:
    schedule = RetrySchedule()
    now, attempts = T0, 0
    while True:
        attempts += 1  # an attempt at `now`, and it failed
        following = schedule.next_attempt(T0, attempts, now, rng)
        if following is None:
            break
        assert following > now
        now = following
    assert now - T0 >= dt.timedelta(hours=24)
    assert now - T0 < dt.timedelta(hours=25)
    assert 20 <= attempts <= 60


class FakePoster:
    def __init__(self, outcome: PostOutcome) -> None:
        self.outcome = outcome
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostOutcome:
        self.sent.append((url, body, headers))
        return self.outcome


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (PostOutcome(204, None), Attempt(204, None, True)),
        (PostOutcome(503, "answered 503"), Attempt(503, "answered 503", False)),
        (PostOutcome(None, "no answer within 10 s"), Attempt(None, "no answer within 10 s", False)),
    ],
)
async def test_an_attempt_posts_the_signed_body(outcome: PostOutcome, expected: Attempt) -> None:
    poster = FakePoster(outcome)
    got = await attempt(
        poster,  # type: ignore[arg-type]
        "http://hooks.example/x",
        delivery_id="whd_1",
        secret="s3cret",
        body=b"{}",
        now=1700000000,
    )
    assert got == expected
    [(url, body, headers)] = poster.sent
    assert (url, body) == ("http://hooks.example/x", b"{}")
    assert headers == delivery_headers("whd_1", "s3cret", b"{}", 1700000000)
