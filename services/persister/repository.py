"""Saved invoices in PostgreSQL (asyncpg; knows nothing of NATS).

`save_invoice` is idempotent per task: the invoice row and its line items are written in one
transaction, and a second save of the same task (a redelivered message) writes nothing and
returns the id of the first.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from contracts import Extraction, LineItem, ValidationReport


@dataclass(frozen=True)
class SavedInvoice:
    invoice_id: str
    created: bool  # False: this task was saved before, nothing was written


@dataclass(frozen=True)
class StoredInvoice:
    """One saved invoice as stored: its `invoices` columns and its line item rows, in order."""

    columns: dict[str, Any]
    line_items: list[dict[str, Any]]


class InvoiceNotStorableError(ValueError):
    """The database refused the values themselves (an amount too large, a NUL in a text)."""


def new_invoice_id() -> str:
    return f"inv_{uuid.uuid4().hex}"


_INSERT_INVOICE = """
INSERT INTO invoices (
    id, task_id, tenant, filename, file_sha256, document_type, invoice_number, invoice_date,
    due_date, currency, vendor_name, total, subtotal, total_tax, validation_status, provider,
    data, confidence, validation, usage
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
    $17::jsonb, $18::jsonb, $19::jsonb, $20::jsonb
)
ON CONFLICT (task_id) DO NOTHING
RETURNING id
"""

_INSERT_LINE_ITEM = """
INSERT INTO invoice_line_items (
    invoice_id, position, description, quantity, unit, unit_price, tax_rate, amount, product_code
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""


def _line_item_row(invoice_id: str, position: int, item: LineItem) -> tuple[Any, ...]:
    return (
        invoice_id,
        position,
        item.description,
        item.quantity,
        item.unit,
        item.unit_price,
        item.tax_rate,
        item.amount,
        item.product_code,
    )


class Repository:
    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    async def save_invoice(
        self,
        *,
        task_id: str,
        tenant: str | None,
        filename: str,
        file_sha256: str | None,
        extraction: Extraction,
        validation: ValidationReport,
    ) -> SavedInvoice:
        invoice = extraction.invoice
        invoice_id = new_invoice_id()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                # A concurrent save of the same task waits here for the other to commit, then
                # conflicts: both end up returning the one row.
                inserted = await conn.fetchval(
                    _INSERT_INVOICE,
                    invoice_id,
                    task_id,
                    tenant,
                    filename,
                    file_sha256,
                    invoice.document_type,
                    invoice.invoice_number,
                    invoice.invoice_date,
                    invoice.due_date,
                    invoice.currency,
                    invoice.vendor.name,
                    invoice.total,
                    invoice.subtotal,
                    invoice.total_tax,
                    validation.status,
                    extraction.provider,
                    invoice.model_dump_json(),
                    json.dumps(extraction.confidence),
                    validation.model_dump_json(),
                    extraction.usage.model_dump_json(),
                )
                if inserted is None:
                    existing = await conn.fetchval(
                        "SELECT id FROM invoices WHERE task_id = $1", task_id
                    )
                    if existing is None:  # deleted between the two statements
                        raise RuntimeError(f"invoice of {task_id} vanished while saving")
                    return SavedInvoice(invoice_id=str(existing), created=False)
                await conn.executemany(
                    _INSERT_LINE_ITEM,
                    [
                        _line_item_row(invoice_id, position, item)
                        for position, item in enumerate(invoice.line_items, start=1)
                    ],
                )
        except asyncpg.DataError as exc:
            raise InvoiceNotStorableError(str(exc)) from exc
        return SavedInvoice(invoice_id=invoice_id, created=True)

    async def get_invoice_by_task(self, task_id: str) -> StoredInvoice | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM invoices WHERE task_id = $1", task_id)
            if row is None:
                return None
            items = await conn.fetch(
                "SELECT * FROM invoice_line_items WHERE invoice_id = $1 ORDER BY position",
                row["id"],
            )
        columns = dict(row.items())
        for key in ("data", "confidence", "validation", "usage"):
            columns[key] = json.loads(columns[key])
        return StoredInvoice(columns=columns, line_items=[dict(item.items()) for item in items])
