"""Which NATS errors mean "the server is away" (a restart, a partition, no JetStream leader
yet): work waits for it to come back instead of failing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats.errors
import nats.js.errors

log = logging.getLogger(__name__)

T = TypeVar("T")

_OUTAGES: tuple[type[BaseException], ...] = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.NoServersError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.ServerError,
    nats.js.errors.NoStreamResponseError,
)

FIRST_PAUSE_SECONDS = 0.2
LONGEST_PAUSE_SECONDS = 5.0
# What a replica waiting for NATS logs (at WARNING), each time it tries again.
WAITING_MARK = "NATS did not answer"
# JetStream's code for "cluster can not handle request": no leader to take it yet.
CLUSTER_NOT_LEADER = 10009


def is_nats_outage(exc: BaseException) -> bool:
    return isinstance(exc, _OUTAGES)


def is_declaring_outage(exc: BaseException) -> bool:
    """An outage, for a request that creates or updates a stream, bucket or consumer. A 500
    answer to one is JetStream refusing it (`replicas > 1 not supported in non-clustered mode`):
    the configuration's fault, which waiting does not mend, unless there is no leader yet."""
    if isinstance(exc, nats.js.errors.ServerError):
        return exc.err_code == CLUSTER_NOT_LEADER
    return is_nats_outage(exc)


async def while_nats_away(
    attempt: Callable[[], Awaitable[T]],
    what: str,
    first_pause: float = FIRST_PAUSE_SECONDS,
    longest_pause: float = LONGEST_PAUSE_SECONDS,
) -> T:
    """`attempt()` (declaring streams, buckets, consumers), again after a pause (doubling up
    to `longest_pause`) for as long as it fails because NATS is away. A replica started while
    the cluster still elects its leaders, or is overloaded creating everyone's streams at once,
    waits (not ready) instead of exiting; any other error, a refusal among them, is raised at
    once. `attempt` must be safe to repeat: a timed-out request may have been carried out."""
    pause = first_pause
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not is_declaring_outage(exc):
                raise
            log.warning("%s: %s (%r); again in %.1f s", what, WAITING_MARK, exc, pause)
        await asyncio.sleep(pause)
        pause = min(pause * 2, longest_pause)
