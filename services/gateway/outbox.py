"""A socket's bounded send queue.

Producers (the hub fanning out an update to many sockets) never wait: a frame is queued or,
when the client has fallen `limit` frames behind, the outbox is closed as overflowed so that
one slow client never stalls the others. The socket is then closed with 1013 and the client
resumes with `after_seq` when it reconnects.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from services.telemetry.metrics import FRAMES_SENT, SLOW_SOCKET_CLOSES, SOCKETS_OPEN


class Outbox:
    """One socket's queue; while it is open the socket counts as open (`transport` label)."""

    def __init__(self, limit: int, transport: str = "ws") -> None:
        self._frames: deque[str] = deque()
        self._limit = limit
        self._wake = asyncio.Event()
        self.closed = asyncio.Event()
        self.overflowed = False
        self._open = SOCKETS_OPEN.labels(transport)
        self._sent = FRAMES_SENT.labels(transport)
        self._open.inc()

    def __len__(self) -> int:
        return len(self._frames)

    def send(self, frame: str) -> bool:
        """Queue a frame; False when the outbox is closed (or just overflowed)."""
        if self.closed.is_set():
            return False
        if len(self._frames) >= self._limit:
            self.overflowed = True
            SLOW_SOCKET_CLOSES.inc()
            self.close()
            return False
        self._frames.append(frame)
        self._wake.set()
        return True

    def close(self) -> None:
        if not self.closed.is_set():
            self._open.dec()
        self._frames.clear()
        self.closed.set()
        self._wake.set()

    async def pump(self, write: Callable[[str], Awaitable[None]]) -> None:
        """Write queued frames in order until the outbox is closed."""
        while not self.closed.is_set():
            if not self._frames:
                self._wake.clear()
                await self._wake.wait()
                continue
            await write(self._frames.popleft())
            self._sent.inc()
