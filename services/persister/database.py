"""When PostgreSQL itself is the problem: errors that say the database is away or overloaded,
not that the invoice is wrong. Work waits for it (the task does not fail); requests are told to
try again."""

from __future__ import annotations

import asyncpg

DEPENDENCY = "postgres"

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, or the Unix socket gone while the server is down
    TimeoutError,  # the pool or a statement waited past its timeout
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57P01-03: shutting down, starting up
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


def is_database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, _UNAVAILABLE):
        return True
    # asyncpg's own "connection is closed" / "pool is closing" on a link that died under it.
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)
