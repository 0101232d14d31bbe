"""One POST to a URL a client registered (a webhook), under the host policy of `hosts.py`.

The URL is checked and its host resolved anew for every request (DNS changes after
registration), the connection goes to the checked address, redirects are never followed, and
the whole request has one deadline. What came of it is said in a status code or in words.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httpx

from services.egress.hosts import Resolve, UrlRefusedError, UrlUnresolvedError, pin, resolve_host

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostOutcome:
    """The answer's status, or None when none came; `error` in words unless it succeeded."""

    status_code: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.error is None


def outcome_of(status: int) -> PostOutcome:
    """A `2xx` succeeded; a redirect is not followed; anything else failed."""
    if 200 <= status < 300:
        return PostOutcome(status, None)
    if 300 <= status < 400:
        return PostOutcome(status, f"answered {status}: redirects are not followed")
    return PostOutcome(status, f"answered {status}")


class Poster:
    def __init__(
        self,
        allowed_hosts: tuple[str, ...],
        timeout_seconds: float,
        resolve: Resolve = resolve_host,
    ) -> None:
        self._allowed = allowed_hosts
        self._timeout = timeout_seconds
        self._resolve = resolve
        # No proxies from the environment: the policy is about where the request goes.
        self._client = httpx.AsyncClient(trust_env=False)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostOutcome:
        try:
            target = await pin(url, self._allowed, self._resolve)
        except UrlRefusedError as exc:
            return PostOutcome(None, f"the URL is refused by the host policy: {exc}")
        except UrlUnresolvedError as exc:
            return PostOutcome(None, str(exc))
        no_answer = PostOutcome(None, f"no answer within {self._timeout:g} s")
        try:
            # httpx's timeout is per read: the deadline bounds a receiver that drips its answer.
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(
                    target.url,
                    content=body,
                    headers={**headers, "Host": target.host_header},
                    extensions=target.extensions,
                    follow_redirects=False,
                    timeout=self._timeout,
                )
        except (TimeoutError, httpx.TimeoutException):
            return no_answer
        except httpx.TransportError as exc:
            log.info("POST to a registered URL failed: %r", exc)
            return PostOutcome(None, "could not connect to the URL")
        return outcome_of(response.status_code)

    async def aclose(self) -> None:
        await self._client.aclose()
