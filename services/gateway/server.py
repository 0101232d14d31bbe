"""uvicorn as the gateway runs it: on SIGTERM or SIGINT it stops accepting, closes sockets
with 1012 (service restart: clients reconnect, to another replica, and resume with
`after_seq`), lets open requests finish for `drain_seconds`, and the process exits 0.
uvicorn itself would re-raise the signal after its graceful shutdown, so that the exit status
were the signal's."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()  # not ready from now on
        super().handle_exit(sig, frame)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, but a handshake refused with an HTTP response (a foreign
    origin, a wrong key) counts as handled: uvicorn logs "ASGI callable returned without
    completing handshake." at ERROR after every such refusal, which is an answer, not a fault."""

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True
