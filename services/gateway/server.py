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
from websockets.http11 import Request
from websockets.protocol import State

# The ASGI extension (in a /ws scope's "extensions") that writes a ready frame at once, or
# answers False when it cannot: see `WebSocketProtocol.write_frame`.
WRITE_FRAME = "invoiceflow.write_frame"

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
    """uvicorn's WebSocket protocol, with two changes.

    A handshake refused with an HTTP response (a foreign origin, a wrong key) counts as
    handled: uvicorn logs "ASGI callable returned without completing handshake." at ERROR
    after every such refusal, which is an answer, not a fault.

    And `write_frame`, offered to the app as the `WRITE_FRAME` extension: a frame that is
    already bytes (a task's update, framed once for all its followers) goes straight to the
    transport. ASGI's `send` costs a task, an await and a framing per frame per socket, and a
    gateway writes thousands of frames in the same few milliseconds when many tasks finish a
    stage together; this path costs about the socket write.
    """

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The method itself, not ASGI's usual dict around it: one dict fewer per socket.
        self.scope["extensions"][WRITE_FRAME] = self.write_frame  # type: ignore[index,assignment]

    def write_frame(self, frame: bytes) -> bool:
        """Write `frame` now if the socket is open and its buffer is below the high-water
        mark; False otherwise (not written: the caller sends it the ASGI way, which waits
        for the buffer to drain, or finds the socket gone)."""
        if not (
            self.handshake_complete
            and self.initial_response is None
            and not self.close_sent
            and not self.disconnected
            and self.writable.is_set()
            and self.conn.state is State.OPEN
            and not self.conn.extensions  # a compressed socket's frames are not these bytes
            and not self.transport.is_closing()
        ):
            return False
        try:
            self.transport.write(frame)
        except Exception:  # a transport that broke since: the ASGI way finds the socket gone
            return False
        return True

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True
