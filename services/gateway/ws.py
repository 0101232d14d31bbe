"""The /ws endpoint (spec section 2): the handshake's checks, then one `Session` per socket.

Every frame the server sends goes through the socket's bounded `Outbox`, so `joined_task` is
queued before the hub queues any replayed update, and a slow client is closed (1013) instead
of holding anyone up. The protocol itself is `session.py`, shared with Socket.IO.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import WebSocket

from services.gateway import frames
from services.gateway.auth import bearer
from services.gateway.errors import error_response
from services.gateway.origins import origin_allowed, own_origins
from services.gateway.outbox import Outbox
from services.gateway.session import Session
from services.gateway.state import gateway_of

log = logging.getLogger(__name__)

TOO_SLOW = 1013  # "try again later": the client fell too far behind


async def websocket_endpoint(websocket: WebSocket) -> None:
    gateway = gateway_of(websocket.app)
    settings = gateway.settings
    own = own_origins(websocket.url.scheme, websocket.headers.get("host"), settings.public_url)
    if not origin_allowed(websocket.headers.get("origin"), settings.cors_origins, own):
        await _refuse(websocket, 403, "origin_not_allowed", "this origin may not open /ws")
        return
    authorization = websocket.headers.get("authorization")
    key = None if authorization is None else bearer(authorization) or ""
    caller = gateway.keys.socket_caller(key)
    if caller is None:
        await _refuse(websocket, 401, "unauthorized", "invalid API key")
        return
    await websocket.accept()
    outbox = Outbox(settings.ws_send_queue)
    session = Session(
        tasks=gateway.tasks,
        hub=gateway.hub,
        outbox=outbox,
        caller=caller,
        max_tasks=settings.ws_max_tasks,
        max_depth=settings.json_max_depth,
    )
    outbox.send(frames.encode("connected", {"sid": session.sid}))
    pump = asyncio.create_task(outbox.pump(websocket.send_text))
    reader = asyncio.create_task(_read(websocket, session))
    closed = asyncio.create_task(outbox.closed.wait())
    try:
        await asyncio.wait({pump, reader, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        session.close()
        outbox.close()
        for task in (pump, reader, closed):
            task.cancel()
        await asyncio.gather(pump, reader, closed, return_exceptions=True)
    if outbox.overflowed:
        log.info("closing slow socket %s", session.sid)
        with contextlib.suppress(Exception):
            # A client that reads nothing may never take the close frame either: bounded wait.
            await asyncio.wait_for(websocket.close(TOO_SLOW, "too slow, resume with after_seq"), 5)


async def _read(websocket: WebSocket, session: Session) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
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


async def _refuse(websocket: WebSocket, status: int, code: str, message: str) -> None:
    """Refuse the handshake with an HTTP error in the usual JSON shape where the server can."""
    log.info("refused a /ws handshake: %s", code)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(status, code, message))
    else:
        await websocket.close(code=1008)
