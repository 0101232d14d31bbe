"""A socket's bounded send queue.

Producers (the hub fanning out an update to many sockets) never wait: a frame is queued or,
when the client has fallen `limit` frames behind, the outbox is closed as overflowed so that
one slow client never stalls the others. The socket is then closed with 1013 and the client
resumes with `after_seq` when it reconnects.

Two ways to write: `pump(write)`, a loop for the life of the socket (Socket.IO), or
`attach(write, on_close)`, a writing task that exists only while frames wait. A gateway holds
sockets by the ten thousand, most of them idle, so an idle outbox holds no task, no queue and
no event (each costs the better part of a KiB). Attached with `write_now` (the server's
`WRITE_FRAME`), a frame sent while none waits is written there and then, without a task.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from services.gateway import frames
from services.telemetry.metrics import FRAMES_SENT, SLOW_SOCKET_CLOSES, SOCKETS_OPEN

Write = Callable[[str], Awaitable[None]]
# Writes a frame's bytes at once if it can (True), else leaves them to `Write` (False).
WriteNow = Callable[[bytes], bool]


class Outbox:
    """One socket's queue; while it is open the socket counts as open (`transport` label)."""

    def __init__(self, limit: int, transport: str = "ws") -> None:
        self._limit = limit
        self._frames: deque[str] | None = None  # made when a frame waits, dropped when none do
        self.closed = False
        self.overflowed = False
        self._closed_event: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None  # pump mode
        self._write: Write | None = None  # attach mode
        self._write_now: WriteNow | None = None
        self._on_close: Callable[[], object] | None = None
        self._writing: asyncio.Task[None] | None = None
        self._open = SOCKETS_OPEN.labels(transport)
        self._sent = FRAMES_SENT.labels(transport)
        self._open.inc()

    @property
    def writing(self) -> bool:
        """Whether a writing task exists (attach mode: only while frames wait)."""
        return self._writing is not None

    def __len__(self) -> int:
        return len(self._frames) if self._frames else 0

    def send(self, frame: str) -> bool:
        """Queue a frame; False when the outbox is closed (or just overflowed)."""
        if self.closed:
            return False
        if len(self) >= self._limit:
            self.overflowed = True
            SLOW_SOCKET_CLOSES.inc()
            self.close()
            return False
        # Written at once only while no writing task runs (none waits, none is being written),
        # so nothing is overtaken; a full socket buffer says False and the frame queues, where
        # the limit applies.
        write_now = self._write_now
        if write_now is not None and self._writing is None and write_now(frames.wire(frame)):
            self._sent.inc()
            return True
        if self._frames is None:
            self._frames = deque()
        self._frames.append(frame)
        if self._write is not None:
            if self._writing is None:
                self._writing = asyncio.create_task(self._write_waiting(self._write))
        elif self._wake is not None:
            self._wake.set()
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._open.dec()
        self._frames = None
        if self._closed_event is not None:
            self._closed_event.set()
        if self._wake is not None:
            self._wake.set()
        if self._writing is not None:
            self._writing.cancel()
        if self._on_close is not None:
            self._on_close()

    async def wait_closed(self) -> None:
        if self.closed:
            return
        if self._closed_event is None:
            self._closed_event = asyncio.Event()
        await self._closed_event.wait()

    # --- attach mode: a writing task only while frames wait ----------------------------------

    def attach(
        self,
        write: Write,
        *,
        on_close: Callable[[], object],
        write_now: WriteNow | None = None,
    ) -> None:
        """Write frames as they are sent; `on_close` runs once when the outbox closes (an
        overflow, or a write that failed: the client is gone)."""
        self._write, self._on_close, self._write_now = write, on_close, write_now
        if self._frames and self._writing is None:
            self._writing = asyncio.create_task(self._write_waiting(write))

    async def detach(self) -> None:
        """Close without calling `on_close`, and wait for the writing task to end."""
        writing = self._writing
        self._on_close = None
        self.close()
        if writing is not None:
            await asyncio.gather(writing, return_exceptions=True)

    async def _write_waiting(self, write: Write) -> None:
        try:
            while self._frames:
                await write(self._frames.popleft())
                self._sent.inc()
            self._frames = None
        except Exception:
            self.close()  # the client is gone
        finally:
            if self._writing is asyncio.current_task():
                self._writing = None

    # --- pump mode: one loop for the socket's life ----------------------------------------

    async def pump(self, write: Write) -> None:
        """Write queued frames in order until the outbox is closed."""
        if self._wake is None:
            self._wake = asyncio.Event()
        while not self.closed:
            if not self._frames:
                self._wake.clear()
                await self._wake.wait()
                continue
            await write(self._frames.popleft())
            self._sent.inc()
