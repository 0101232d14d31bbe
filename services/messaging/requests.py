"""Core-NATS request-reply: a typed request, a typed reply, or one coded error.

What can go wrong in asking is the same for every service asked, so its codes are too:
`{service}_unavailable` (nothing subscribed), `{service}_timeout`, `{service}_failed` (a reply
that is not the promised type). The words for each are the caller's: it knows who it asks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

Reply = TypeVar("Reply", bound=BaseModel)


class Failure(StrEnum):
    """How asking failed: the second half of the error code."""

    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    FAILED = "failed"


@dataclass(frozen=True)
class Service:
    """Who is asked: `name` starts the error codes, the rest are the messages in words."""

    name: str
    unavailable: str
    timeout: str
    failed: str

    def code(self, failure: Failure) -> str:
        return f"{self.name}_{failure}"

    def message(self, failure: Failure) -> str:
        words: dict[Failure, str] = {
            Failure.UNAVAILABLE: self.unavailable,
            Failure.TIMEOUT: self.timeout,
            Failure.FAILED: self.failed,
        }
        return words[failure]


class RequestFailedError(Exception):
    """No typed reply came: `code` is `{service}_{failure}`, `message` says it in words."""

    def __init__(self, service: Service, failure: Failure) -> None:
        self.failure = failure
        self.code = service.code(failure)
        self.message = service.message(failure)
        super().__init__(self.message)


async def ask(
    nc: NatsClient,
    subject: str,
    body: BaseModel,
    reply_type: type[Reply],
    *,
    timeout: float,
    service: Service,
) -> Reply:
    """Send `body` as JSON to `subject` and read the reply as a `reply_type`."""
    try:
        message = await nc.request(subject, body.model_dump_json().encode(), timeout=timeout)
    except NoRespondersError as exc:
        raise RequestFailedError(service, Failure.UNAVAILABLE) from exc
    except NatsTimeoutError as exc:
        raise RequestFailedError(service, Failure.TIMEOUT) from exc
    try:
        return reply_type.model_validate_json(message.data)
    except ValidationError as exc:
        # The caller hears only the code; what was wrong with the reply is said here.
        log.warning(
            "the %s's reply on %s is not a %s: %s", service.name, subject, reply_type.__name__, exc
        )
        raise RequestFailedError(service, Failure.FAILED) from exc
