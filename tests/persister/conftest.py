"""Fixtures for the persister tests: a schema of the test's own in the session's PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest

from services.persister.migrations import migrate
from services.persister.repository import Repository


def with_search_path(dsn: str, schema: str) -> str:
    # asyncpg passes unknown query parameters to the server as settings.
    parts = urlsplit(dsn)
    query = [*parse_qsl(parts.query), ("search_path", schema)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
async def schema_dsn(database_url: str) -> AsyncIterator[str]:
    """A DSN whose connections live in a fresh, empty schema (dropped afterwards)."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        yield with_search_path(database_url, schema)
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()


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
