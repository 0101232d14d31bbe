"""Which NATS errors mean "the server is away" (a restart, a partition, no JetStream leader
yet): work waits for it to come back instead of failing."""

from __future__ import annotations

import nats.errors
import nats.js.errors

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


def is_nats_outage(exc: BaseException) -> bool:
    return isinstance(exc, _OUTAGES)
