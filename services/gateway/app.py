"""The gateway's FastAPI app: `create_app(settings)`, with a lifespan that owns the NATS link."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

import nats
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from services.gateway.api import VERSION, build_routers
from services.gateway.auth import ApiKeyMiddleware, ApiKeys
from services.gateway.cors import JsonCORSMiddleware
from services.gateway.depth import JsonDepthMiddleware
from services.gateway.downloads import BlobReaders, quiet_cut_downloads
from services.gateway.errors import install_error_handlers
from services.gateway.hub import Hub
from services.gateway.operations import operations_router
from services.gateway.pages import PAGE_SIDE, PageRenderer
from services.gateway.server import WebSocketProtocol
from services.gateway.settings import GatewaySettings
from services.gateway.socketio import SocketIOGateway, SocketIOMiddleware
from services.gateway.state import Gateway, gateway_of
from services.gateway.store import InvoiceStore
from services.gateway.tasks import TaskService
from services.gateway.tracing import TracingMiddleware
from services.gateway.ws import WebSocketFastPath, websocket_endpoint
from services.messaging.blobs import NatsObjectBlobStore
from services.messaging.jetstream import blobs_bucket, declare_pipeline_streams, tasks_bucket
from services.messaging.outages import while_nats_away
from services.pages.decode_pool import DecodePool, PoolLimits
from services.pages.render import DocumentLimits
from services.process import StoppedWhileStarting, start_unless_stopped
from services.telemetry.health import Health

log = logging.getLogger(__name__)

# Client frames are small JSON objects; nothing legitimate comes near this.
WS_MAX_FRAME_BYTES = 64 * 1024


def create_app(settings: GatewaySettings) -> FastAPI:
    app = FastAPI(
        title="invoiceflow gateway",
        version=VERSION,
        # Body limits are set per route (api.py), inside JsonErrorsMiddleware: an app-wide
        # limit would answer with Starlette's plain-text 413 from outside every middleware.
        lifespan=_lifespan(settings),
    )
    install_error_handlers(app)
    quiet_cut_downloads(logging.getLogger("uvicorn.error"))
    app.add_middleware(TracingMiddleware)
    # Inside CORS, so a refusal still carries the CORS headers a browser needs to read it.
    app.add_middleware(JsonDepthMiddleware, max_depth=settings.json_max_depth)
    # Outside the body's readers (the depth check, the routes), inside CORS.
    app.add_middleware(ApiKeyMiddleware, keys=ApiKeys(settings.api_keys))
    app.add_middleware(
        JsonCORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    for router in build_routers(settings):
        app.include_router(router)
    app.include_router(operations_router())
    # Served by `WebSocketFastPath` under uvicorn (server_config); the route is for the app alone.
    app.add_api_websocket_route("/ws", websocket_endpoint)
    _serve_page(app)
    # Socket.IO at /socket.io/ (same events as /ws). Added last, so outermost: Engine.IO answers
    # its own CORS and origin checks, and every other request (and the lifespan) goes on.
    sio = SocketIOGateway(app, settings)
    app.state.socketio = sio
    app.add_middleware(SocketIOMiddleware, socketio_gateway=sio)
    return app


# The upload page: plain files from static/, no build step, nothing loaded from elsewhere.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# The review workspace also shows page images fetched with the API key (blob: URLs).
WORKSPACE_CSP = PAGE_CSP.replace("img-src 'self' data:", "img-src 'self' data: blob:")
PAGE_ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "invoices.js": "text/javascript; charset=utf-8",
    "invoices.css": "text/css; charset=utf-8",
    "stored.js": "text/javascript; charset=utf-8",
    "base.css": "text/css; charset=utf-8",
}


def _serve_page(app: FastAPI) -> None:
    """`/` is static/index.html; `/static/app.js` and `/static/app.css` are what it loads.
    `/invoices` and `/invoices/{invoice_id}` are the review workspace, static/invoices.html with
    `/static/invoices.js` and `/static/invoices.css`."""
    static = resources.files("services.gateway").joinpath("static")
    page = static.joinpath("index.html").read_text()
    headers = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff"}

    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={**headers, "Cache-Control": "no-cache"})

    app.add_api_route("/", index, methods=["GET"], include_in_schema=False)
    workspace = static.joinpath("invoices.html").read_text()
    workspace_headers = {**headers, "Content-Security-Policy": WORKSPACE_CSP}

    async def review_workspace() -> HTMLResponse:
        # One page for the list and for each invoice: the script reads the path.
        return HTMLResponse(workspace, headers={**workspace_headers, "Cache-Control": "no-cache"})

    for path in ("/invoices", "/invoices/{invoice_id}"):
        app.add_api_route(path, review_workspace, methods=["GET"], include_in_schema=False)
    for name, media_type in PAGE_ASSETS.items():
        asset = _asset_route(static.joinpath(name).read_bytes(), media_type, headers)
        app.add_api_route(f"/static/{name}", asset, methods=["GET"], include_in_schema=False)


def _asset_route(
    body: bytes, media_type: str, headers: dict[str, str]
) -> Callable[[], Awaitable[Response]]:
    async def asset() -> Response:
        return Response(
            body, media_type=media_type, headers={**headers, "Cache-Control": "no-cache"}
        )

    return asset


def _lifespan(settings: GatewaySettings) -> Callable[[FastAPI], Any]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = await _start_unless_stopped(app, settings)
        if gateway is None:  # told to stop while it waited for NATS: nothing to serve
            yield
            return
        app.state.gateway = gateway
        try:
            yield
        finally:
            sio = getattr(app.state, "socketio", None)
            if isinstance(sio, SocketIOGateway):
                await sio.close()
            await stop(gateway)

    return lifespan


async def _start_unless_stopped(app: FastAPI, settings: GatewaySettings) -> Gateway | None:
    """`start(settings)`, or None once `stop_requested(app)` is called before it is done: a
    gateway waiting for JetStream (see `while_nats_away`) still ends on SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # Called from a signal handler: wake the loop rather than touch the event from outside it.
    app.state.stop_starting = lambda: loop.call_soon_threadsafe(stop.set)
    try:
        return await start_unless_stopped(start(settings), stop)
    except StoppedWhileStarting:
        log.info("stopped while starting")
        return None
    finally:
        del app.state.stop_starting


def stop_requested(app: FastAPI) -> None:
    """SIGTERM or SIGINT: not ready from now on, or, while still starting, stop starting."""
    stop_starting = getattr(app.state, "stop_starting", None)
    if stop_starting is not None:
        stop_starting()
    elif getattr(app.state, "gateway", None) is not None:
        gateway_of(app).health.drain()


async def start(settings: GatewaySettings) -> Gateway:
    """Connect to NATS and declare what the gateway uses (create-or-update, every replica)."""
    hubs: list[Hub] = []

    async def reconnected() -> None:
        # Core NATS does not keep what was published while we were away: read it back.
        log.info("reconnected to NATS")
        for hub in hubs:
            hub.resync()

    async def disconnected() -> None:
        if not (nc.is_closed or nc.is_draining):  # not our own shutdown
            log.warning("disconnected from NATS")

    async def error(exc: Exception) -> None:
        log.warning("NATS: %r", exc)

    nc = await nats.connect(
        settings.nats_servers,
        name="invoiceflow-gateway",
        max_reconnect_attempts=-1,  # keep trying; /api/health says "degraded" meanwhile
        reconnect_time_wait=1,
        reconnected_cb=reconnected,
        disconnected_cb=disconnected,
        error_cb=error,
    )
    try:
        js = nc.jetstream()
        replicas = settings.stream_replicas

        async def declare() -> tuple[KeyValue, ObjectStore]:
            await declare_pipeline_streams(js, settings.progress_retention_hours, replicas)
            kv = await tasks_bucket(js, settings.progress_retention_hours, replicas)
            return kv, await blobs_bucket(js, replicas)

        kv, store = await while_nats_away(declare, "gateway: declaring streams and buckets")
    except BaseException:
        await nc.close()
        raise
    try:
        # Subscribed before the gateway serves its first socket: see hub.py.
        hub = await Hub(nc, js, silence_seconds=settings.ws_silence_seconds).start()
    except BaseException:
        await nc.close()
        raise
    hubs.append(hub)
    return Gateway(
        settings=settings,
        nc=nc,
        js=js,
        blobs=NatsObjectBlobStore(js, store),
        tasks=TaskService(js, kv),
        hub=hub,
        keys=ApiKeys(settings.api_keys),
        store=InvoiceStore(nc, settings.store_timeout_seconds),
        health=Health(("nats",)),
        blob_readers=BlobReaders(settings.blob_max_readers),
        pages=page_renderer(settings),
    )


def page_renderer(settings: GatewaySettings) -> PageRenderer:
    limits = DocumentLimits(
        max_pages=settings.max_pages,
        max_image_pixels=settings.max_image_pixels,
        max_image_side=PAGE_SIDE,
    )
    # Processes start on the first page asked for and end when idle: no cost while nobody reviews.
    pool = DecodePool(
        PoolLimits(
            processes=settings.page_renders,
            seconds=settings.page_render_seconds,
            memory_limit_mb=settings.page_render_memory_mb,
        )
    )
    return PageRenderer(
        limits,
        pool,
        concurrency=settings.page_renders,
        max_waiting=settings.page_render_queue,
        cache_bytes=settings.page_cache_mb * 1024 * 1024,
    )


async def stop(gateway: Gateway) -> None:
    await gateway.hub.close()
    await gateway.pages.close()
    if gateway.nc.is_connected:
        with contextlib.suppress(Exception):
            await gateway.nc.drain()
    await gateway.nc.close()


def server_config(app: FastAPI, settings: GatewaySettings, **overrides: Any) -> uvicorn.Config:
    """How uvicorn serves the gateway; tests pass `fd`/`port` overrides."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        # Compression costs ~50 KiB per socket and lets small frames expand: off.
        "ws_per_message_deflate": False,
        "ws": WebSocketProtocol,
        "ws_max_size": WS_MAX_FRAME_BYTES,
        "access_log": settings.access_log,
        "log_level": settings.log_level.lower(),
        "server_header": False,
        # An open Socket.IO long-poll (up to 25 s) or a slow client must not hold a restart:
        # clients resume with after_seq anyway.
        "timeout_graceful_shutdown": settings.drain_seconds,
    }
    if settings.log_format == "json":
        # uvicorn's own handlers print text: leave its loggers to the root's JSON handler.
        options["log_config"] = None
    options.update(overrides)
    # /ws is reached ahead of the app's layers (see ws.py).
    return uvicorn.Config(WebSocketFastPath(app), interface="asgi3", **options)
