"""A server span for every HTTP request, continuing the caller's `traceparent`; what the request
publishes carries the trace on (services/messaging/publisher.py). Costs nothing when tracing
is off."""

from __future__ import annotations

from opentelemetry.trace import SpanKind
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.telemetry import tracing

_TRACE_HEADERS = ("traceparent", "tracestate")


class TracingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing.active():
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        carrier = {
            key: value for key in ("traceparent", "tracestate") if (value := headers.get(key))
        }
        name = f"{scope['method']} {scope['path']}"
        with tracing.tracer().start_as_current_span(
            name, context=tracing.extract(carrier), kind=SpanKind.SERVER
        ) as span:

            async def send_with_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            await self.app(scope, receive, send_with_status)
