"""Versioned SQL migrations, applied at start-up.

Files in `migrations/` are named `<version>_<name>.sql` and applied in version order, each once,
each in its own transaction together with its row in `schema_migrations`. A session advisory
lock serialises replicas that start together: the second waits, then finds nothing to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

# Any constant works; it only has to be the same for every replica of this schema's owner.
MIGRATION_LOCK_KEY = 0x1F0F_0001
_FILENAME = re.compile(r"^(\d+)_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def default_directory() -> Traversable:
    return resources.files("services.persister").joinpath("migrations")


def load_migrations(directory: Traversable | None = None) -> list[Migration]:
    """Every migration in `directory`, by version; two files with one version are refused."""
    found: dict[int, Migration] = {}
    for entry in (directory or default_directory()).iterdir():
        match = _FILENAME.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migrations with version {version}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


async def migrate(
    pool: asyncpg.Pool[asyncpg.Record], directory: Traversable | None = None
) -> list[int]:
    """Apply the migrations not applied yet; return their versions."""
    migrations = load_migrations(directory)
    applied_now: list[int] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute(_CREATE_TABLE)
            rows = await conn.fetch("SELECT version FROM schema_migrations")
            applied = {int(row["version"]) for row in rows}
            for migration in migrations:
                if migration.version in applied:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        migration.version,
                        migration.name,
                    )
                applied_now.append(migration.version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied_now
