"""Start-up migrations: each applied once, atomically, safe when replicas start together."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TypeAlias

import asyncpg
import pytest

from services.persister.migrations import load_migrations, migrate

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"  # the stubs are generic, asyncpg is not


async def tables(pool: Pool) -> set[str]:
    rows = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    return {row["table_name"] for row in rows}


async def applied(pool: Pool) -> list[int]:
    rows = await pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
    return [row["version"] for row in rows]


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def test_shipped_migrations_are_found_in_order() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations][:1] == [1]
    assert migrations[0].name == "initial"
    assert [m.version for m in migrations] == sorted({m.version for m in migrations})


def test_loading_ignores_other_files_and_refuses_duplicate_versions(tmp_path: Path) -> None:
    ok = write(tmp_path / "ok", {"0002_b.sql": "SELECT 2", "0001_a.sql": "SELECT 1", "x.txt": ""})
    assert [(m.version, m.name) for m in load_migrations(ok)] == [(1, "a"), (2, "b")]
    twice = write(tmp_path / "twice", {"0001_a.sql": "SELECT 1", "1_b.sql": "SELECT 1"})
    with pytest.raises(ValueError, match="two migrations with version 1"):
        load_migrations(twice)


SHIPPED = [m.version for m in load_migrations()]


async def test_migrate_creates_the_schema_once(pool: Pool) -> None:
    assert await migrate(pool) == SHIPPED
    assert {
        "schema_migrations",
        "invoices",
        "invoice_line_items",
        "invoice_reviews",
    } <= await tables(pool)

    assert await migrate(pool) == []
    assert await applied(pool) == SHIPPED


async def test_replicas_starting_together_apply_each_migration_once(pool: Pool) -> None:
    results = await asyncio.gather(*(migrate(pool) for _ in range(6)))

    assert sorted(results) == [[], [], [], [], [], SHIPPED]
    assert await applied(pool) == SHIPPED


async def test_the_review_migration_keeps_invoices_saved_before_it(
    pool: Pool, tmp_path: Path
) -> None:
    shipped = {m.version: m for m in load_migrations()}
    first = write(tmp_path, {"0001_initial.sql": shipped[1].sql})
    await migrate(pool, first)
    await pool.execute(
        """
        INSERT INTO invoices (id, task_id, tenant, filename, invoice_number, vendor_name,
            validation_status, provider, data, validation, usage)
        VALUES ('inv_1', 'task_1', NULL, 'a.pdf', 'INV-0042', 'ACME GmbH', 'needs_review',
            'local', '{"customer": {"name": "Example Ltd"}}', '{}', '{}')
        """
    )

    assert await migrate(pool) == SHIPPED[1:]

    row = await pool.fetchrow("SELECT * FROM invoices WHERE id = 'inv_1'")
    assert row is not None
    assert (row["tenant"], row["status"], row["version"]) == ("", "needs_review", 1)
    assert (row["vendor_key"], row["number_key"]) == ("acme", "inv0042")
    assert row["customer_name"] == "Example Ltd" and row["duplicate_of"] is None


async def test_only_new_migrations_run(pool: Pool, tmp_path: Path) -> None:
    first = write(tmp_path, {"0001_a.sql": "CREATE TABLE a (x int)"})
    assert await migrate(pool, first) == [1]
    write(tmp_path, {"0002_b.sql": "CREATE TABLE b (x int); INSERT INTO a VALUES (1)"})

    assert await migrate(pool, tmp_path) == [2]
    assert await pool.fetchval("SELECT count(*) FROM a") == 1
    assert await applied(pool) == [1, 2]


async def test_a_failing_migration_leaves_nothing_behind(pool: Pool, tmp_path: Path) -> None:
    broken = write(
        tmp_path,
        {
            "0001_a.sql": "CREATE TABLE a (x int)",
            "0002_b.sql": "CREATE TABLE b (x int); SELECT 1/0",
        },
    )
    with pytest.raises(asyncpg.DivisionByZeroError):
        await migrate(pool, broken)

    assert await applied(pool) == [1]
    assert "b" not in await tables(pool)
    # The lock was released: a fixed migration goes through.
    (tmp_path / "0002_b.sql").write_text("CREATE TABLE b (x int)")
    assert await migrate(pool, tmp_path) == [2]
