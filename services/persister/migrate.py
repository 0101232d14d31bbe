"""`python -m services.persister.migrate`: apply the pending migrations once and exit.

A deployment runs this (the Kubernetes Job in deploy/k8s) before rolling out new persisters, so
a schema change is in place before any new code needs it. The persister still migrates on start
as well: both go through the same advisory lock, so running both, or several at once, is safe.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from services.persister.migrations import migrate
from services.persister.settings import PersisterSettings
from services.telemetry.logs import configure_logging

log = logging.getLogger(__name__)


async def migrate_once(settings: PersisterSettings) -> list[int]:
    """Open one connection, apply what is missing, close it; the versions applied now."""
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=1,
        max_size=1,
        command_timeout=settings.db_command_timeout_seconds,
    )
    try:
        return await migrate(pool)
    finally:
        await pool.close()


def main() -> None:
    settings = PersisterSettings()
    configure_logging(settings.log_level, settings.log_format, "persister-migrate")
    applied = asyncio.run(migrate_once(settings))
    log.info("database migrated (applied now: %s)", applied or "nothing")


if __name__ == "__main__":
    main()
