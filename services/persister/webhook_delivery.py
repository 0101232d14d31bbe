"""One attempt at a webhook delivery, its signature and when the next attempt is due.

Knows nothing of NATS or PostgreSQL, nor of HTTP: the POST itself, under the host policy checked
again at every attempt (DNS changes), is `services.egress.post`'s. A success ends the delivery;
anything else is a failed attempt, retried with exponential backoff and jitter until the retry
window has passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
from dataclasses import dataclass

from contracts.webhooks import SIGNATURE_HEADER, WEBHOOK_ID_HEADER
from services.egress.post import Poster
from services.persister.webhook_store import Attempt

USER_AGENT = "invoiceflow-webhooks/1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`Invoiceflow-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def delivery_headers(delivery_id: str, secret: str, body: bytes, now: float) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        WEBHOOK_ID_HEADER: delivery_id,
        SIGNATURE_HEADER: signature(secret, int(now), body),
    }


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff with jitter: the n-th retry waits `base * 2**(n-1)` seconds, at most
    `max`, of which a random part (up to `jitter`) is taken off; retried until `window` seconds
    after the event."""

    base_seconds: float = 10.0
    max_seconds: float = 3600.0
    window_seconds: float = 24 * 3600.0
    jitter: float = 0.5

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """The wait after the `attempts`-th failed attempt (1 for the first)."""
        exponent = min(max(attempts - 1, 0), 32)
        ceiling = min(self.base_seconds * 2**exponent, self.max_seconds)
        draw = rng.random() if rng is not None else random.random()
        return float(ceiling * (1 - self.jitter * draw))

    def next_attempt(
        self,
        created_at: dt.datetime,
        attempts: int,
        now: dt.datetime,
        rng: random.Random | None = None,
    ) -> dt.datetime | None:
        """When to try again after `attempts` failed ones, or None: the window is over."""
        if (now - created_at).total_seconds() >= self.window_seconds:
            return None
        return now + dt.timedelta(seconds=self.delay(attempts, rng))


async def attempt(
    poster: Poster, url: str, *, delivery_id: str, secret: str, body: bytes, now: float
) -> Attempt:
    """POST the body to the URL once, signed for this attempt."""
    outcome = await poster.post(url, body, delivery_headers(delivery_id, secret, body, now))
    return Attempt(outcome.status_code, outcome.error, outcome.succeeded)
