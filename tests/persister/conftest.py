"""Fixtures for the persister tests: a schema of the test's own in the session's PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.persister.migrations import migrate
from services.persister.repository import Repository


@pytest.fixture
async def pool(schema_dsn: str) -> AsyncIterator[asyncpg.Pool[asyncpg.Record]]:
    created = await asyncpg.create_pool(schema_dsn, min_size=1, max_size=8)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
async def repository(pool: asyncpg.Pool[asyncpg.Record]) -> Repository:
    await migrate(pool)
    return Repository(pool)
