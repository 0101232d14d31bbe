"""One attempt at a webhook delivery, its signature and when the next attempt is due.

Knows nothing of NATS or PostgreSQL. Every attempt re-checks the URL against the host policy
(DNS can change after registration) and connects to the very address it checked; redirects are
never followed. A `2xx` ends the delivery; anything else, or no answer within the timeout, is a
failed attempt, retried with exponential backoff and jitter until the retry window has passed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import random
from dataclasses import dataclass

import httpx

from contracts.webhooks import SIGNATURE_HEADER, WEBHOOK_ID_HEADER
from services.egress.hosts import Resolve, UrlRefusedError, UrlUnresolvedError, pin, resolve_host
from services.persister.webhook_store import Attempt

log = logging.getLogger(__name__)

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
    url: str,
    *,
    delivery_id: str,
    secret: str,
    body: bytes,
    allowed_hosts: tuple[str, ...],
    client: httpx.AsyncClient,
    timeout_seconds: float,
    now: float,
    resolve: Resolve = resolve_host,
) -> Attempt:
    """POST the body to the URL once; how it went, in a status code or words."""
    try:
        target = await pin(url, allowed_hosts, resolve)
    except UrlRefusedError as exc:
        return Attempt(None, f"the URL is refused by the host policy: {exc}", False)
    except UrlUnresolvedError as exc:
        return Attempt(None, str(exc), False)
    headers = delivery_headers(delivery_id, secret, body, now)
    try:
        async with asyncio.timeout(timeout_seconds):
            response = await client.post(
                target.url,
                content=body,
                headers={**headers, "Host": target.host_header},
                extensions=target.extensions,
                follow_redirects=False,
                timeout=timeout_seconds,
            )
    except TimeoutError:
        return Attempt(None, f"no answer within {timeout_seconds:g} s", False)
    except httpx.TimeoutException:
        return Attempt(None, f"no answer within {timeout_seconds:g} s", False)
    except httpx.TransportError as exc:
        log.info("webhook delivery %s: %r", delivery_id, exc)
        return Attempt(None, "could not connect to the URL", False)
    status = response.status_code
    if 200 <= status < 300:
        return Attempt(status, None, True)
    if 300 <= status < 400:
        return Attempt(status, f"answered {status}: redirects are not followed", False)
    return Attempt(status, f"answered {status}", False)
