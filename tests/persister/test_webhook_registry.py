"""The registrations cache: loaded once for many lookups, reloaded after a change or its TTL."""

from __future__ import annotations

import asyncio

from services.persister.webhook_registry import Registrations
from services.persister.webhook_store import Registration


class Source:
    def __init__(self) -> None:
        self.rows = [Registration("wh_1", "acme", frozenset({"task.completed"}))]
        self.loads = 0

    async def load(self) -> list[Registration]:
        self.loads += 1
        await asyncio.sleep(0)
        return list(self.rows)


async def test_lookups_share_one_load() -> None:
    source = Source()
    cache = Registrations(source.load)
    found = await asyncio.gather(*(cache.wanting("task.completed") for _ in range(20)))
    assert all([r.webhook_id for r in regs] == ["wh_1"] for regs in found)
    assert await cache.wanting("task.failed") == []
    assert source.loads == 1


async def test_a_change_is_seen_after_invalidate() -> None:
    source = Source()
    cache = Registrations(source.load)
    assert len(await cache.wanting("task.completed")) == 1
    source.rows = []
    assert len(await cache.wanting("task.completed")) == 1  # cached
    cache.invalidate()
    assert await cache.wanting("task.completed") == []
    assert source.loads == 2


async def test_a_missed_change_is_seen_after_the_ttl() -> None:
    source = Source()
    cache = Registrations(source.load, ttl_seconds=0)
    await cache.wanting("task.completed")
    source.rows = []
    assert await cache.wanting("task.completed") == []
