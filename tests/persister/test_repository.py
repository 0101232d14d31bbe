"""Saving invoices: one transaction, one row per task however often it is saved."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg
import pytest

from contracts import Invoice
from services.persister.repository import InvoiceNotStorableError, Repository
from tests.persister.samples import REPORT, extraction, new_task_id

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"


async def save(repository: Repository, task_id: str, **changes: Any) -> Any:
    return await repository.save_invoice(
        task_id=task_id,
        tenant="tenant-a",
        filename="invoice.pdf",
        file_sha256="cd" * 32,
        extraction=extraction(**changes),
        validation=REPORT,
    )


async def count(pool: Pool, table: str) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM {table}"))


async def test_saves_the_invoice_and_its_line_items(repository: Repository) -> None:
    task_id = new_task_id()

    saved = await save(repository, task_id)

    assert saved.created is True
    assert re.fullmatch(r"inv_[0-9a-f]{32}", saved.invoice_id)
    stored = await repository.get_invoice_by_task(task_id)
    assert stored is not None
    row = stored.columns
    assert row["id"] == saved.invoice_id and row["task_id"] == task_id
    assert (row["tenant"], row["filename"], row["file_sha256"]) == (
        "tenant-a",
        "invoice.pdf",
        "cd" * 32,
    )
    assert row["document_type"] == "invoice" and row["invoice_number"] == "INV-42"
    assert row["invoice_date"] == dt.date(2026, 11, 2) and row["due_date"] == dt.date(2026, 12, 2)
    assert row["currency"] == "EUR" and row["vendor_name"] == "ACME GmbH"
    assert (row["subtotal"], row["total_tax"], row["total"]) == (
        Decimal("150.00"),
        Decimal("28.50"),
        Decimal("178.50"),
    )
    assert row["validation_status"] == "needs_review" and row["provider"] == "openai"
    assert Invoice.model_validate(row["data"]) == extraction().invoice
    assert row["data"]["total"] == "178.50"  # money stays a decimal string in JSON
    assert row["confidence"] == {"vendor.name": 0.5, "total": 0.99}
    assert row["validation"]["issues"][0]["code"] == "low_confidence"
    assert row["usage"] == {"input_tokens": 1200, "output_tokens": 300}
    assert isinstance(row["created_at"], dt.datetime)
    assert [
        (i["position"], i["description"], i["quantity"], i["unit_price"], i["amount"])
        for i in stored.line_items
    ] == [
        (1, "Widget", Decimal("2"), Decimal("50.00"), Decimal("100.00")),
        (2, "Gadget", Decimal("0.5"), Decimal("100.00"), Decimal("50.00")),
    ]
    first = stored.line_items[0]
    assert (first["unit"], first["tax_rate"], first["product_code"]) == ("pcs", Decimal(19), "W-1")


async def test_saving_a_task_twice_keeps_one_row(repository: Repository, pool: Pool) -> None:
    task_id = new_task_id()
    rows_before = await count(pool, "invoices")

    first = await save(repository, task_id)
    again = await save(repository, task_id, total="999.00")

    assert again.created is False and again.invoice_id == first.invoice_id
    assert await count(pool, "invoices") == rows_before + 1
    stored = await repository.get_invoice_by_task(task_id)
    assert stored is not None
    assert stored.columns["total"] == Decimal("178.50")  # the first save wins
    assert len(stored.line_items) == 2


async def test_concurrent_saves_of_one_task_write_one_row(repository: Repository) -> None:
    task_id = new_task_id()

    results = await asyncio.gather(*(save(repository, task_id) for _ in range(5)))

    assert sorted(r.created for r in results) == [False, False, False, False, True]
    assert len({r.invoice_id for r in results}) == 1
    stored = await repository.get_invoice_by_task(task_id)
    assert stored is not None and len(stored.line_items) == 2


async def test_an_invoice_without_line_items_is_saved(repository: Repository) -> None:
    task_id = new_task_id()
    await save(repository, task_id, line_items=[], invoice_date=None, currency=None)
    stored = await repository.get_invoice_by_task(task_id)
    assert stored is not None and stored.line_items == []
    assert stored.columns["invoice_date"] is None and stored.columns["currency"] is None


async def test_a_failing_line_item_rolls_the_invoice_back(
    repository: Repository, pool: Pool
) -> None:
    # A trigger fails the line item insert, i.e. after the invoice row was written.
    await pool.execute(
        """
        CREATE FUNCTION refuse_line() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'line refused'; END $$;
        CREATE TRIGGER refuse_line BEFORE INSERT ON invoice_line_items
        FOR EACH ROW WHEN (NEW.description = 'boom') EXECUTE FUNCTION refuse_line();
        """
    )
    task_id = new_task_id()
    rows_before = await count(pool, "invoices")

    with pytest.raises(asyncpg.RaiseError, match="line refused"):
        await save(repository, task_id, line_items=[{"description": "boom", "amount": "1.00"}])

    assert await repository.get_invoice_by_task(task_id) is None
    assert await count(pool, "invoices") == rows_before
    assert await count(pool, "invoice_line_items") == 0


async def test_text_postgresql_cannot_hold_is_not_storable(repository: Repository) -> None:
    task_id = new_task_id()
    with pytest.raises(InvoiceNotStorableError):
        await save(repository, task_id, vendor={"name": "ACME\x00"})
    assert await repository.get_invoice_by_task(task_id) is None


async def test_an_amount_beyond_the_column_is_not_storable(repository: Repository) -> None:
    task_id = new_task_id()
    with pytest.raises(InvoiceNotStorableError):
        await save(repository, task_id, total="1000000000000000.00")
    assert await repository.get_invoice_by_task(task_id) is None


async def test_an_unknown_task_has_no_invoice(repository: Repository) -> None:
    assert await repository.get_invoice_by_task(new_task_id()) is None
