"""A small pool of worker processes for the heavy work on untrusted documents (decoding,
rendering, OCR), each job under a budget.

    pool = DecodePool(PoolLimits(processes=2, seconds=60))
    document = await pool.run(load_document, data, limits)   # any picklable module-level fn
    await pool.close()                                       # on drain: no process left behind

Why processes: a decoder's memory returns to the system only when its process ends, a CPU bomb
can only be stopped by ending the process that runs it, and a crash of a C library ends only the
child. So each child has a memory cap (RLIMIT_DATA, set in the child before any work), each job
a wall-clock budget (over it, the child is killed and the job refused `document_too_complex`),
and a child is replaced after `max_tasks` jobs or once its resident memory passes `max_rss_mb`.
A child that dies during a job is replaced and the job refused with a code: the document was
what it was working on. Children are spawned, not forked (the parent has threads and an event
loop), ignore SIGINT/SIGTERM (the parent drains and then closes them) and are killed by the
kernel should the parent die first (PR_SET_PDEATHSIG), so none outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import logging
import multiprocessing
import os
import resource
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol, TypeVar, cast

from contracts import ErrorCode
from services.worker.errors import (
    DependencyUnavailableError,
    PermanentError,
    StageError,
    TransientError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
MB = 1024 * 1024
# How long a new child may take to import its modules and say it is ready.
START_SECONDS = 60.0
# Imported by every child before it says it is ready, so no job pays for them (a service
# passes its own job's module).
PRELOAD = ("services.pages.render",)
_PR_SET_PDEATHSIG = 1


class Runner(Protocol):
    """Where CPU-heavy work runs: `run(fn, *args)` returns `fn(*args)` or raises its error."""

    async def run(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def close(self) -> None: ...


class InThread:
    """The same interface on a thread of this process: for tests and tools, no budget."""

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def close(self) -> None:
        return None


@dataclass(frozen=True)
class PoolLimits:
    processes: int = 2
    # Wall-clock seconds one job may take in its child (a child does one job at a time).
    seconds: float = 60.0
    # A child is replaced after this many jobs, or once its resident memory is over max_rss_mb.
    max_tasks: int = 100
    max_rss_mb: int = 1024
    # Each child's data segment (heap and anonymous mappings): past it, allocations fail.
    memory_limit_mb: int = 1536
    # A child idle this long is stopped, so a quiet replica gives its memory back (0: never).
    idle_seconds: float = 60.0


class DecodePool:
    """`processes` children, started on first use; `run` waits for a free one."""

    def __init__(self, limits: PoolLimits, *, preload: tuple[str, ...] = PRELOAD) -> None:
        self.limits = limits
        self._preload = preload
        self._context = multiprocessing.get_context("spawn")
        self._slots = asyncio.Semaphore(limits.processes)
        self._idle: list[_Child] = []
        self._children: set[_Child] = set()
        # Threads that wait on the children's pipes: one per child, never the event loop.
        # (One more than the children: a handed-back job's thread ends only as its child dies.)
        self._waiters = ThreadPoolExecutor(limits.processes + 1, thread_name_prefix="decode-wait")
        self._ended: list[_Child] = []
        self._closed = False

    @property
    def pids(self) -> list[int]:
        """The children alive now (for tests and measurements)."""
        return [pid for child in self._children if (pid := child.process.pid) is not None]

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            if self._closed:
                raise DependencyUnavailableError("decoder", "the service is stopping")
            child = await self._child()
            try:
                answered = await self._in_waiter(child.call, (fn, args), self.limits.seconds)
            except asyncio.CancelledError:
                # Handed back (a drain): the job must not go on running in the child.
                self._discard(child)
                raise
            except (EOFError, OSError) as exc:
                await self._end(child)
                if self._closed:
                    raise DependencyUnavailableError("decoder", "the service is stopping") from exc
                log.warning("a decode process died during a job (exit %s)", child.exitcode)
                raise PermanentError(
                    ErrorCode.DOCUMENT_TOO_COMPLEX, "decoding the document stopped its worker"
                ) from exc
            if not answered:
                await self._end(child)
                raise PermanentError(
                    ErrorCode.DOCUMENT_TOO_COMPLEX,
                    f"decoding the document took longer than the {self.limits.seconds:g} s allowed",
                )
            reply = child.take_reply()
            child.tasks += 1
            if self._closed or self._worn_out(child, reply.rss):
                await self._end(child)
            else:
                self._rest(child)
            return cast(T, reply.outcome())

    async def close(self) -> None:
        """End every child (busy ones too: by now the drain is over) and wait for them to exit."""
        self._closed = True
        self._idle.clear()
        for child in list(self._children):
            self._discard(child)
        await self._in_waiter(self._reap)
        self._waiters.shutdown(wait=False, cancel_futures=True)

    # --- the children's lifecycle ------------------------------------------------------------

    async def _in_waiter(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._waiters, fn, *args)

    async def _child(self) -> _Child:
        """An idle child, else a new one. An idle child that has died meanwhile (killed from
        outside) is replaced: no document was in it."""
        while self._idle:
            child = self._idle.pop()
            if child.process.is_alive():
                return child
            await self._end(child)
        await self._in_waiter(self._reap)
        # Started from the event loop's thread, which lives as long as the process: the
        # kernel's parent-death signal follows the thread that started the child.
        child = _Child(self._context, self.limits.memory_limit_mb * MB, self._preload)
        self._children.add(child)
        try:
            await self._in_waiter(child.wait_ready, START_SECONDS)
        except BaseException:
            self._discard(child)
            raise
        return child

    def _rest(self, child: _Child) -> None:
        self._idle.append(child)
        if self.limits.idle_seconds > 0:
            tasks = child.tasks
            asyncio.get_running_loop().call_later(
                self.limits.idle_seconds, self._stop_if_idle, child, tasks
            )

    def _stop_if_idle(self, child: _Child, tasks: int) -> None:
        """Still idle since it was rested with `tasks` jobs done: stopped (joined by `_reap`)."""
        if child in self._idle and child.tasks == tasks:
            self._idle.remove(child)
            self._discard(child)

    def _worn_out(self, child: _Child, rss: int) -> bool:
        if child.tasks >= self.limits.max_tasks or rss > self.limits.max_rss_mb * MB:
            log.info("replacing a decode process after %d job(s), %d MiB", child.tasks, rss // MB)
            return True
        return False

    def _discard(self, child: _Child) -> None:
        """Killed at once (an idle child holds nothing worth a goodbye, a busy one is the bomb);
        joined later, off the loop, by `_reap`. Bookkeeping stays on the event loop's thread."""
        self._children.discard(child)
        child.kill()
        self._ended.append(child)

    async def _end(self, child: _Child) -> None:
        self._discard(child)
        await self._in_waiter(self._reap)

    def _reap(self) -> None:
        while self._ended:
            self._ended.pop().join()


@dataclass(frozen=True)
class _Reply:
    kind: str  # ok | refused | failed
    value: Any
    rss: int

    def outcome(self) -> Any:
        if self.kind == "ok":
            return self.value
        if self.kind == "refused":
            retryable, code, message = self.value
            raise (TransientError if retryable else PermanentError)(code, message)
        raise RuntimeError(f"the decode process failed: {self.value}")


class _Child:
    def __init__(self, context: Any, memory_limit: int, preload: tuple[str, ...]) -> None:
        parent_end, child_end = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_child_main,
            args=(child_end, memory_limit, preload),
            name="invoiceflow-decode",
            daemon=True,
        )
        self.process.start()
        child_end.close()
        self.conn: Connection = parent_end
        self.tasks = 0
        self._reply: _Reply | None = None

    @property
    def exitcode(self) -> int | None:
        return self.process.exitcode

    def wait_ready(self, timeout: float) -> None:
        try:
            if self.conn.poll(timeout):
                self.conn.recv()
                return
        except (EOFError, OSError):
            pass
        raise RuntimeError("a decode process did not start")

    def call(self, job: tuple[Callable[..., Any], tuple[Any, ...]], timeout: float) -> bool:
        """Whether the child answered `job` within `timeout`; its reply is then `take_reply()`.

        The reply is kept here, not returned: what a thread returns to the event loop stays
        in a reference cycle of futures until the garbage collector runs, and a document's
        pages are tens of MiB."""
        self.conn.send(job)
        if not self.conn.poll(timeout):
            return False
        kind, value, rss = self.conn.recv()
        self._reply = _Reply(kind, value, rss)
        return True

    def take_reply(self) -> _Reply:
        reply, self._reply = self._reply, None
        assert reply is not None
        return reply

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()

    def join(self) -> None:
        self.process.join(5.0)
        self.conn.close()


# --- the service's own process ---------------------------------------------------------------

_M_MMAP_THRESHOLD = -3
# Pages come back from the children as buffers of megabytes: far above this.
MMAP_THRESHOLD = 256 * 1024


def return_large_buffers_to_the_system() -> bool:
    """glibc: every allocation of 256 KiB or more gets its own mapping, unmapped when freed, so
    the pages a child hands back leave this process with the task. By default glibc raises this
    threshold to 32 MiB after the first large free, and buffers of a few MiB then come from the
    heap, which stays at its high-water mark. False where there is no glibc (nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


# --- inside a child ---------------------------------------------------------------------------


def _child_main(conn: Connection, memory_limit: int, preload: tuple[str, ...]) -> None:
    _die_with_parent()
    # The parent decides when children stop: a Ctrl-C or SIGTERM to the process group must not
    # end a job that the parent's drain lets finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for module in preload:
        importlib.import_module(module)
    if memory_limit > 0:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_limit, memory_limit))
    conn.send(("ready", None, _rss()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        fn, args = job
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except StageError as exc:
            reply = ("refused", (exc.retryable, exc.code, exc.message))
        except MemoryError:
            reply = ("refused", (False, ErrorCode.DOCUMENT_TOO_COMPLEX, _NO_MEMORY))
        except Exception as exc:  # a bug, not the document: reported as one
            log.exception("decode job failed")
            reply = ("failed", type(exc).__name__)
        del job, fn, args
        try:
            conn.send((*reply, _rss()))
        except MemoryError:
            conn.send(("refused", (False, ErrorCode.DOCUMENT_TOO_COMPLEX, _NO_MEMORY), _rss()))


_NO_MEMORY = "decoding the document needs more memory than allowed"


def _rss() -> int:
    """This process's resident memory now, in bytes (Linux), else its peak."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _die_with_parent() -> None:
    """Linux: the kernel kills this process when its parent dies, however the parent ends."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
