"""The /ws endpoint (spec section 2): the handshake's checks, then one `Session` per socket.

Every frame the server sends goes through the socket's bounded `Outbox`, so `joined_task` is
queued before the hub queues any replayed update, and a slow client is closed (1013) instead
of holding anyone up. The protocol itself is `session.py`, shared with Socket.IO.

A gateway holds thousands of idle sockets, so what each one keeps alive is counted: the
endpoint is reached by `WebSocketFastPath` ahead of the HTTP middleware stack (none of which
acts on a WebSocket scope, yet each would keep a frame per socket), and a socket runs as its
ASGI coroutine, reading; its outbox has a writing task only while frames wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from services.gateway import frames
from services.gateway.auth import Caller, bearer
from services.gateway.errors import error_response
from services.gateway.origins import origin_allowed, own_origins
from services.gateway.outbox import Outbox
from services.gateway.server import WRITE_FRAME
from services.gateway.session import Session
from services.gateway.state import Gateway, gateway_of

log = logging.getLogger(__name__)

TOO_SLOW = 1013  # "try again later": the client fell too far behind


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str


async def websocket_endpoint(websocket: WebSocket) -> None:
    # One coroutine for the socket's life (each nested one would be kept per socket).
    gateway = gateway_of(websocket.app)
    admitted = _admit(websocket.scope, gateway)
    if isinstance(admitted, Refusal):
        await _refuse(websocket, admitted)
        return
    settings = gateway.settings
    await websocket.accept()
    outbox = Outbox(settings.ws_send_queue)
    session = Session(
        tasks=gateway.tasks,
        hub=gateway.hub,
        outbox=outbox,
        caller=admitted,
        max_tasks=settings.ws_max_tasks,
        max_depth=settings.json_max_depth,
    )
    outbox.send(frames.encode("connected", {"sid": session.sid}))
    reading = asyncio.current_task()
    assert reading is not None
    # The outbox closing under the reader (a slow client, a write that failed) stops it.
    outbox.attach(
        websocket.send_text,
        on_close=reading.cancel,
        write_now=websocket.scope["extensions"].get(WRITE_FRAME),
    )
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            await _handle(session, message)
    except asyncio.CancelledError:
        if not outbox.closed:
            raise  # cancelled from outside: the server is stopping
        reading.uncancel()
    finally:
        session.close()
        await outbox.detach()
    if outbox.overflowed:
        log.info("closing slow socket %s", session.sid)
        with contextlib.suppress(Exception):
            # A client that reads nothing may never take the close frame either: bounded wait.
            await asyncio.wait_for(websocket.close(TOO_SLOW, "too slow, resume with after_seq"), 5)


def _admit(scope: Scope, gateway: Gateway) -> Caller | Refusal:
    """The handshake's checks: origin, then key. A function of its own, so that nothing it
    reads stays referenced from the socket's frame for the socket's life."""
    settings = gateway.settings
    headers = Headers(scope=scope)
    own = own_origins(scope["scheme"], headers.get("host"), settings.public_url)
    if not origin_allowed(headers.get("origin"), settings.cors_origins, own):
        return Refusal(403, "origin_not_allowed", "this origin may not open /ws")
    authorization = headers.get("authorization")
    key = None if authorization is None else bearer(authorization) or ""
    caller = gateway.keys.socket_caller(key)
    if caller is None:
        return Refusal(401, "unauthorized", "invalid API key")
    return caller


async def _handle(session: Session, message: Message) -> None:
    text = message.get("text")
    try:
        if text is None:
            session.binary_frame()
        else:
            await session.handle(text)
    except Exception:
        # The contract: a bad frame gets an `error` event and the socket stays open.
        log.warning("a /ws frame could not be handled on %s", session.sid, exc_info=True)
        session.frame_failed()


async def _refuse(websocket: WebSocket, refusal: Refusal) -> None:
    """Refuse the handshake with an HTTP error in the usual JSON shape where the server can."""
    log.info("refused a /ws handshake: %s", refusal.code)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        response = error_response(refusal.status, refusal.code, refusal.message)
        await websocket.send_denial_response(response)
    else:
        await websocket.close(code=1008)


class WebSocketFastPath:
    """Wraps the app: a WebSocket handshake on `path` goes straight to the endpoint.

    The app's layers (Starlette's error and exception middlewares, FastAPI's, ours: CORS, keys,
    JSON depth, tracing) all pass WebSocket scopes through untouched, the endpoint checks the
    origin and the key itself, but each layer would stay on the stack of every open socket for
    its whole life.
    """

    def __init__(self, app: Starlette, path: str = "/ws") -> None:
        self.app = app
        self.path = path

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine itself: the endpoint's coroutine is handed to the server as it is,
        # so this layer is not one more frame per socket (hence `interface="asgi3"`).
        if scope["type"] == "websocket" and scope["path"] == self.path:
            scope["app"] = self.app  # as Starlette sets it: `websocket.app` is the gateway's
            return websocket_endpoint(WebSocket(scope, receive, send))
        return self.app(scope, receive, send)
