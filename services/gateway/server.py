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
