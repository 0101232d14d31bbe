"""Pages of saved documents as PNG for the review workspace: rendered in decode processes (a
budget per page, a memory cap, a crash of PDFium ends a child, not the gateway), a few at a
time, and kept in a bounded in-memory cache.

Why in memory and per replica: a page is a pure function of the document's sha256, its number
and the renderer, so any replica may render it and no cache ever needs invalidating; a reviewer
flipping pages hits the replica's cache, and behind a balancer without affinity each replica
renders a page at most once while it stays cached. A shared cache (an object-store bucket) would
cost a bucket with its own retention and a NATS round trip per hit for little more; browsers
also keep the pages (`Cache-Control`, `ETag`: the gateway answers `304` without rendering).

At most `concurrency` renders run at once (each holds one document in this process and a
decoded page in its child); `max_waiting` more may wait for a slot; beyond that
`RenderersBusyError`. Requests for a page already being rendered wait for that render instead
of starting another.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator

from services.pages.decode_pool import Runner
from services.pages.render import DocumentLimits, PageNotFoundError, page_png

# The longest side of a page the workspace shows (spec section 6).
PAGE_SIDE = 1600
# Bump when rendering changes what a page looks like: it is in every page's ETag.
RENDER_VERSION = 1

PageKey = tuple[str, int]  # (document sha256, page number)
# Reads the document's bytes; None when it is no longer stored.
ReadDocument = Callable[[], Awaitable[bytes | None]]


class RenderersBusyError(Exception):
    """Every render slot is taken and the queue behind them is full."""


class DocumentGoneError(LookupError):
    """The document is no longer in the blob store."""


def page_etag(sha256: str, number: int) -> str:
    return f'"{sha256}-{number}-r{RENDER_VERSION}"'


class PageCache:
    """PNGs by (sha256, page), least recently used dropped first, at most `max_bytes` in all."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[PageKey, bytes] = OrderedDict()

    def get(self, key: PageKey) -> bytes | None:
        png = self._entries.get(key)
        if png is not None:
            self._entries.move_to_end(key)
        return png

    def put(self, key: PageKey, png: bytes) -> None:
        if len(png) > self.max_bytes:
            return  # would evict everything and still not fit
        previous = self._entries.pop(key, None)
        self.size += len(png) - (len(previous) if previous is not None else 0)
        self._entries[key] = png
        while self.size > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.size -= len(dropped)

    def __len__(self) -> int:
        return len(self._entries)


class PageRenderer:
    def __init__(
        self,
        limits: DocumentLimits,
        runner: Runner,
        *,
        concurrency: int,
        max_waiting: int,
        cache_bytes: int,
    ) -> None:
        self.limits = limits
        self.runner = runner
        self.cache = PageCache(cache_bytes)
        self.renders = 0  # renders run, for tests and metrics: cache hits do not count
        self._slots = asyncio.Semaphore(concurrency)
        self._capacity = concurrency + max_waiting
        self._admitted = 0
        self._running: dict[PageKey, asyncio.Task[bytes]] = {}

    def page(self, sha256: str, number: int, read: ReadDocument) -> asyncio.Future[bytes]:
        """The PNG of page `number`, to be awaited; raises `PageNotFoundError`, a coded
        `PermanentError` (the document's: services.pages.render, or over the decode budget),
        `DependencyUnavailableError` (stopping), `DocumentGoneError`, or (at once, when called)
        `RenderersBusyError`. Admitted when called, not when first awaited."""
        key = (sha256, number)
        cached = self.cache.get(key)
        if cached is not None:
            done = asyncio.get_running_loop().create_future()
            done.set_result(cached)
            return done
        task = self._running.get(key)
        if task is None:
            with self._admission():
                task = asyncio.create_task(self._render(key, read))
            self._running[key] = task
            task.add_done_callback(self._finished)
        # Shielded: a client that leaves does not cancel a render others may be waiting for.
        return asyncio.shield(task)

    def _finished(self, task: asyncio.Task[bytes]) -> None:
        self._running = {key: t for key, t in self._running.items() if t is not task}
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have left before it ended

    @contextlib.contextmanager
    def _admission(self) -> Iterator[None]:
        if self._admitted >= self._capacity:
            raise RenderersBusyError
        self._admitted += 1
        try:
            yield
        except BaseException:
            self._admitted -= 1
            raise

    async def _render(self, key: PageKey, read: ReadDocument) -> bytes:
        try:
            # The document is read only once a slot is free: waiting renders hold no bytes.
            async with self._slots:
                data = await read()
                if data is None:
                    raise DocumentGoneError(key[0])
                png = await self.runner.run(page_png, data, key[1], self.limits)
        finally:
            self._admitted -= 1
        if isinstance(png, PageNotFoundError):
            raise png
        self.renders += 1
        self.cache.put(key, png)
        return png

    async def close(self) -> None:
        """Ends the decode processes (on shutdown)."""
        await self.runner.close()
