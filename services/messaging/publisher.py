"""Envelopes published straight to JetStream, for a service without a FastStream broker (the
gateway); workers publish through their broker (`Worker.publish`)."""

from __future__ import annotations

from nats.js import JetStreamContext

from services.messaging.envelopes import Envelope, Publish
from services.telemetry.tracing import inject


def jetstream_publisher(js: JetStreamContext) -> Publish:
    async def publish(envelope: Envelope) -> None:
        await js.publish(
            envelope.subject,
            envelope.body,
            stream=envelope.stream,
            headers=inject_trace(envelope.headers),
        )

    return publish


def inject_trace(headers: dict[str, str]) -> dict[str, str]:
    """The headers with the current trace context, so the next service continues the trace."""
    return inject(dict(headers))
