"""Every replica's cached view of who wants which webhook events (knows nothing of NATS).

Looked up once per terminal task update and per review, so a tenant without webhooks costs a
dictionary lookup. The view is reloaded when a registration changes (`invalidate`, which every
replica is told about) and at the latest `ttl_seconds` after it was loaded, in case such a
notice was missed (a reconnect).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from services.persister.webhook_store import Registration

Load = Callable[[], Awaitable[list[Registration]]]


class Registrations:
    def __init__(self, load: Load, ttl_seconds: float = 30.0) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._by_event: dict[str, list[Registration]] | None = None
        self._loaded_at = 0.0
        self._generation = 0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._generation += 1
        self._by_event = None

    async def wanting(self, event: str) -> list[Registration]:
        """Every registration, of any tenant, that wants `event`."""
        return (await self._current()).get(event, [])

    def _fresh(self) -> dict[str, list[Registration]] | None:
        if self._by_event is not None and time.monotonic() - self._loaded_at < self._ttl:
            return self._by_event
        return None

    async def _current(self) -> dict[str, list[Registration]]:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:  # one load at a time, however many events wait on it
            fresh = self._fresh()
            if fresh is not None:
                return fresh
            generation = self._generation
            by_event: dict[str, list[Registration]] = {}
            for registration in await self._load():
                for event in registration.events:
                    by_event.setdefault(event, []).append(registration)
            # A change announced while loading: this view may predate it; use it once only.
            if generation == self._generation:
                self._by_event, self._loaded_at = by_event, time.monotonic()
            return by_event
