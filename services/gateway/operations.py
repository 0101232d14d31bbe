"""The gateway's operational endpoints (spec §6): `/healthz`, `/readyz`, `/metrics`, and the
answer every NATS-backed route gives at once while the broker is away: `503` + `Retry-After`
(a client retries; nothing it sent was half-accepted)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.gateway.errors import try_again
from services.gateway.state import gateway_of

# Seconds a client should wait before trying again while the broker is away: NATS reconnects
# within about a second of coming back.
RETRY_AFTER_SECONDS = 2
BROKER_AWAY = try_again(
    "service_unavailable",
    "the message broker is unavailable; try again shortly",
    RETRY_AFTER_SECONDS,
)


async def require_broker(request: Request) -> None:
    """FastAPI dependency: refuse at once, rather than queue the work behind a reconnect."""
    if not gateway_of(request.app).nc.is_connected:
        raise BROKER_AWAY


async def healthz() -> JSONResponse:
    return JSONResponse({"alive": True})


async def readyz(request: Request) -> JSONResponse:
    gateway = gateway_of(request.app)
    connected = gateway.nc.is_connected
    ready = connected and not gateway.health.draining
    body = {"ready": ready, "draining": gateway.health.draining, "nats": connected}
    return JSONResponse(body, status_code=200 if ready else 503)


async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def operations_router() -> APIRouter:
    router = APIRouter(tags=["operations"])
    router.add_api_route("/healthz", healthz, methods=["GET"])
    router.add_api_route("/readyz", readyz, methods=["GET"])
    router.add_api_route("/metrics", metrics, methods=["GET"], response_class=Response)
    return router
