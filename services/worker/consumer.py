"""Adapter: a step's durable pull consumer, fetched only as fast as there is room to work.

A message is fetched only when one of the replica's `max_in_flight` slots is free, so nothing
waits fetched-but-unhandled in memory with its `ack_wait` running, and a stopping replica can
hand back, at once, every message it holds (`drain`): none waits out `ack_wait` because a
worker that was told to stop still held it. Every replica of the step shares the durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from services.telemetry.metrics import MESSAGES_IN_FLIGHT

log = logging.getLogger(__name__)

Handle = Callable[[Msg], Coroutine[Any, Any, None]]
# Long enough to keep idle replicas cheap, short enough that a drain is not kept waiting.
FETCH_SECONDS = 1.0


class PullConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        durable: str,
        max_in_flight: int,
        handle: Handle,
        on_unavailable: Callable[[str], None],
        on_available: Callable[[], None],
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._handle = handle
        self._on_unavailable = on_unavailable
        self._on_available = on_available
        self._slots = asyncio.Semaphore(max_in_flight)
        self._max = max_in_flight
        self._working: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False
        self._in_flight = MESSAGES_IN_FLIGHT.labels(durable)

    @property
    def in_flight(self) -> int:
        return len(self._working)

    async def start(self) -> None:
        subscription = await self._js.pull_subscribe_bind(
            durable=self._durable, stream=self._stream
        )
        self._loop = asyncio.create_task(self._pull(subscription))

    async def _pull(self, subscription: JetStreamContext.PullSubscription) -> None:
        failures = 0
        while not self._stopping:
            free = await self._free_slots()
            try:
                messages = await subscription.fetch(free, timeout=FETCH_SECONDS)
            except TimeoutError:
                messages = []
            except (nats.errors.Error, OSError) as exc:
                # The server is away (a restart, a partition): nothing to take until it is back.
                self._release(free)
                failures += 1
                self._on_unavailable(type(exc).__name__)
                await asyncio.sleep(min(0.25 * failures, 2.0))
                continue
            failures = 0
            self._on_available()
            self._release(free - len(messages))
            for message in messages:
                self._start(message)
        # Whatever reached us after the last fetch returned is handed back, not left waiting.
        with contextlib.suppress(Exception):
            if subscription.pending_msgs:
                for message in await subscription.fetch(subscription.pending_msgs, timeout=0.1):
                    self._start(message)
        # Gone before the connection drains: nats-py would wait on it until its drain timeout.
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()

    async def _free_slots(self) -> int:
        await self._slots.acquire()
        free = 1
        while free < self._max and not self._slots.locked():
            await self._slots.acquire()
            free += 1
        return free

    def _release(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()

    def _start(self, message: Msg) -> None:
        task = asyncio.create_task(self._handle(message))
        self._working.add(task)
        self._in_flight.set(len(self._working))
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._working.discard(task)
        self._in_flight.set(len(self._working))
        self._slots.release()
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a %s message escaped its handler: %r", self._durable, exc)

    async def stop_fetching(self) -> None:
        """No more fetches; returns once the running fetch (at most FETCH_SECONDS) is done."""
        self._stopping = True
        if self._loop is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    async def wait_idle(self, timeout: float) -> bool:
        """Until every message being worked on is done, at most `timeout`; True if idle."""
        if self._working:
            await asyncio.wait(set(self._working), timeout=timeout)
        return not self._working

    async def cancel_working(self) -> None:
        """Cancel what is still being worked on: each hands its message back as it stops."""
        working = set(self._working)
        for task in working:
            task.cancel()
        await asyncio.gather(*working, return_exceptions=True)
