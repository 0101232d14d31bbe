"""Socket.IO at `/socket.io/`: the /ws protocol (spec section 2) for Socket.IO clients.

The same events with the same data: the client emits `join_task` {task_id, token, after_seq?},
`leave_task` {task_id} and `ping`; the server emits `connected` {sid}, `joined_task`,
`task_update`, `left_task`, `pong` and `error` {code, message}. Each Socket.IO connection gets a
`Session` from ws.py (token, tenant, after_seq and task-limit rules live there, once) and a
bounded `Outbox`, whose pump turns each frame `{"event", "data"}` into an emit to that sid.

Connection rules match /ws: a foreign `Origin` is refused by Engine.IO's origin check (the
gateway's allowlist plus its own origin); with API keys configured, a key from the `auth`
payload (`{token: "<key>"}`) or an `Authorization: Bearer` header scopes the socket to its
tenant, a wrong key refuses the connection, no key leaves task tokens alone to count.

Each replica follows its tasks through NATS itself, so no Socket.IO message queue is needed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import socketio  # type: ignore[import-untyped]
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway import frames
from services.gateway.auth import bearer
from services.gateway.depth import TOO_DEEP, DepthLimitedJson
from services.gateway.origins import origin_allowed, own_origins
from services.gateway.outbox import Outbox
from services.gateway.session import Session
from services.gateway.settings import GatewaySettings
from services.gateway.state import gateway_of

log = logging.getLogger(__name__)

SOCKETIO_PATH = "socket.io"
NAMESPACE = "/"


@dataclass
class _Connection:
    session: Session
    outbox: Outbox
    runner: asyncio.Task[None]


class SocketIOGateway:
    """The Socket.IO server of one gateway app; handlers find the Gateway on `app.state`."""

    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self._app = app
        self._settings = settings
        self._connections: dict[str, _Connection] = {}
        self.server = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins=self._origin_allowed,
            # One socket's events are handled in order, like /ws frames (join, then leave...).
            async_handlers=False,
            # Client events are small JSON objects, as on /ws.
            max_http_buffer_size=64 * 1024,
            # A packet nested too deep decodes to a marker event instead of ending the socket.
            json=DepthLimitedJson(settings.json_max_depth),
            # Engine.IO logs a refused origin at ERROR: a refusal is an answer, not a fault.
            engineio_logger=RefusalsAsWarnings(logging.getLogger("engineio.server"), {}),
        )
        self.server.on("connect", self._connect)
        self.server.on("disconnect", self._disconnect)
        self.server.on("*", self._event)

    def connections(self) -> int:
        return len(self._connections)

    async def close(self) -> None:
        """Drop every connection and stop Engine.IO's background task (app shutdown)."""
        for sid in tuple(self._connections):
            await self.drop(sid)
        await self.server.shutdown()

    async def drop(self, sid: str) -> None:
        """Close the connection's transport: Socket.IO clients reconnect on their own."""
        eio_socket = self._eio_socket(sid)
        if eio_socket is None or eio_socket.closed:
            return
        if eio_socket.upgraded:
            # Engine.IO's websocket writer closes the websocket when it dequeues None.
            eio_socket.queue.put_nowait(None)
        else:
            # Long-polling: a CLOSE packet ends the transport on the client.
            await eio_socket.close(wait=False)

    def _eio_socket(self, sid: str) -> Any:
        """The Engine.IO socket under a Socket.IO sid (python-engineio's, not a public API)."""
        eio_sid = self.server.manager.eio_sid_from_sid(sid, NAMESPACE)
        return self.server.eio.sockets.get(eio_sid) if eio_sid else None

    # --- handlers -------------------------------------------------------------------------

    def _origin_allowed(self, origin: str | None, environ: Mapping[str, Any]) -> bool:
        scope = environ.get("asgi.scope") or {}
        own = own_origins(
            scope.get("scheme", "http"), environ.get("HTTP_HOST"), self._settings.public_url
        )
        return origin_allowed(origin, self._settings.cors_origins, own)

    async def _connect(self, sid: str, environ: Mapping[str, Any], auth: Any = None) -> None:
        gateway = gateway_of(self._app)
        caller = gateway.keys.socket_caller(_api_key(auth, environ.get("HTTP_AUTHORIZATION")))
        if caller is None:
            raise socketio.exceptions.ConnectionRefusedError(
                "invalid API key", {"code": "unauthorized", "message": "invalid API key"}
            )
        outbox = Outbox(self._settings.ws_send_queue, transport="socketio")
        session = Session(
            tasks=gateway.tasks,
            hub=gateway.hub,
            outbox=outbox,
            caller=caller,
            max_tasks=self._settings.ws_max_tasks,
            max_depth=self._settings.json_max_depth,
            sid=sid,
        )
        outbox.send(frames.encode("connected", {"sid": sid}))
        runner = asyncio.create_task(self._run(sid, outbox))
        self._connections[sid] = _Connection(session, outbox, runner)

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        connection = self._connections.pop(sid, None)
        if connection is None:
            return
        connection.session.close()
        connection.outbox.close()
        eio_socket = self._eio_socket(sid)
        if eio_socket is not None:
            # End a long-poll still waiting for packets (Engine.IO would hold it for up to
            # ping_interval + ping_timeout, and a server shutting down waits for it).
            eio_socket.queue.put_nowait(None)
        if connection.runner is not asyncio.current_task():
            connection.runner.cancel()
            await asyncio.gather(connection.runner, return_exceptions=True)

    async def _event(self, event: str, sid: str, *args: Any) -> None:
        connection = self._connections.get(sid)
        if connection is None:
            return
        if event == TOO_DEEP:
            connection.session.too_deep()
            return
        if len(args) > 1:
            # emit("join_task", a, b): the protocol's events carry one object.
            await connection.session.handle_event(event, list(args))
            return
        await connection.session.handle_event(event, args[0] if args else None)

    # --- sending --------------------------------------------------------------------------

    async def _run(self, sid: str, outbox: Outbox) -> None:
        """Pump the outbox to the client until it closes; an overflow drops the transport."""
        await self._connected(sid)

        async def write(frame: str) -> None:
            message = json.loads(frame)
            await self.server.emit(message["event"], message["data"], to=sid)
            await self._drained(sid)

        pump = asyncio.create_task(outbox.pump(write))
        closed = asyncio.create_task(outbox.wait_closed())
        try:
            await asyncio.wait({pump, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, closed):
                task.cancel()
            await asyncio.gather(pump, closed, return_exceptions=True)
        if outbox.overflowed:
            log.info("dropping slow Socket.IO connection %s", sid)
            await self.drop(sid)

    async def _connected(self, sid: str) -> None:
        # The connect handler runs before python-socketio sends the CONNECT packet; an event
        # emitted meanwhile would reach the client first. The packet goes out without a pause
        # right after the handler, so this loop normally passes at once.
        for _ in range(1000):
            if self.server.manager.is_connected(sid, NAMESPACE) or sid not in self._connections:
                return
            await asyncio.sleep(0)

    async def _drained(self, sid: str) -> None:
        """Wait until Engine.IO's (unbounded) queue for the client is taken by its writer.

        Frames then pile up in the bounded `Outbox` instead, so a client that stops reading
        overflows it and is dropped, exactly like a slow /ws client.
        """
        queue = getattr(self._eio_socket(sid), "queue", None)
        if isinstance(queue, asyncio.Queue):
            await queue.join()


class RefusalsAsWarnings(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Engine.IO's logger with `error()` (what it logs a refused client with) at WARNING;
    `exception()`, which it logs its own faults with, stays at ERROR."""

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        if kwargs.get("exc_info"):
            super().error(msg, *args, **kwargs)
        else:
            self.warning(msg, *args, **kwargs)


def _api_key(auth: Any, authorization: str | None) -> str | None:
    """The key from `io(url, {auth: {token}})`, else from `Authorization: Bearer`, else None."""
    if isinstance(auth, Mapping) and isinstance(auth.get("token"), str):
        return str(auth["token"])
    if authorization is not None:
        return bearer(authorization) or ""
    return None


class SocketIOMiddleware:
    """Sends `/socket.io/` to the Socket.IO server and everything else (lifespan too) on."""

    def __init__(self, app: ASGIApp, socketio_gateway: SocketIOGateway) -> None:
        self._asgi = socketio.ASGIApp(
            socketio_gateway.server, other_asgi_app=app, socketio_path=SOCKETIO_PATH
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)
