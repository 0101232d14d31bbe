"""`python -m services.persister.migrate`: the migration Job's entry point applies the pending
migrations once, a second run finds nothing to do, and the process exits 0."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg

from services.persister.migrate import migrate_once
from services.persister.migrations import load_migrations
from services.persister.settings import PersisterSettings

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [m.version for m in load_migrations()]


async def applied(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    return [row["version"] for row in rows]


async def test_migrate_once_applies_what_is_missing_then_nothing(schema_dsn: str) -> None:
    settings = PersisterSettings(database_url=schema_dsn)
    assert await migrate_once(settings) == SHIPPED
    assert await migrate_once(settings) == []
    assert await applied(schema_dsn) == SHIPPED


async def test_the_module_runs_as_a_command_and_exits(schema_dsn: str) -> None:
    env = {**os.environ, "DATABASE_URL": schema_dsn, "PYTHONPATH": str(REPO)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.persister.migrate",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    assert "database migrated" in stderr.decode()
    assert await applied(schema_dsn) == SHIPPED
