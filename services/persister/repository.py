"""Saved invoices in PostgreSQL (asyncpg; knows nothing of NATS).

`save_invoice` is idempotent per task: the invoice row and its line items are written in one
transaction, and a second save of the same task (a redelivered message) writes nothing and
returns what the first wrote. It also flags duplicates: under a transaction-scoped advisory lock
per (tenant, file) and (tenant, vendor, number), so two replicas saving the same invoice at once
still flag the second.

The open (keyless) deployment stores its invoices under the tenant "".
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg

from contracts import Extraction, Invoice, LineItem, ValidationReport
from contracts.store import (
    FieldChange,
    InvoicePage,
    InvoiceStatus,
    InvoiceSummary,
    ListInvoices,
    Review,
    ReviewDecision,
    SavedInvoice,
)
from services.persister.duplicates import DuplicateReason, flag_duplicate, number_key, vendor_key
from services.persister.paging import decode_cursor, encode_cursor

# Quoted: asyncpg's classes are generic only in its stubs.
Connection: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)


@dataclass(frozen=True)
class SaveOutcome:
    invoice_id: str
    created: bool  # False: this task was saved before, nothing was written
    duplicate_of: str | None = None
    validation: ValidationReport | None = None  # as stored, with any duplicate warning


@dataclass(frozen=True)
class StoredInvoice:
    """One saved invoice as stored: its `invoices` columns and its line item rows, in order."""

    columns: dict[str, Any]
    line_items: list[dict[str, Any]]


@dataclass(frozen=True)
class ReviewChange:
    """What a review writes: the corrected invoice, its findings and the audit entry."""

    invoice: Invoice
    confidence: dict[str, float]
    validation: ValidationReport
    status: InvoiceStatus
    reviewer: str
    decision: ReviewDecision
    changes: list[FieldChange]
    note: str | None


class InvoiceNotStorableError(ValueError):
    """The database refused the values themselves (an amount too large, a NUL in a text)."""


def new_invoice_id() -> str:
    return f"inv_{uuid.uuid4().hex}"


def new_review_id() -> str:
    return f"rev_{uuid.uuid4().hex}"


def tenant_key(tenant: str | None) -> str:
    return tenant or ""


# Columns derived from the invoice: written on save and rewritten by a review.
_INVOICE_COLUMNS = (
    "document_type",
    "invoice_number",
    "invoice_date",
    "due_date",
    "currency",
    "vendor_name",
    "vendor_key",
    "number_key",
    "customer_name",
    "subtotal",
    "total_discount",
    "shipping",
    "total_tax",
    "total",
    "amount_paid",
    "amount_due",
)


def _invoice_values(invoice: Invoice) -> tuple[Any, ...]:
    return (
        invoice.document_type,
        invoice.invoice_number,
        invoice.invoice_date,
        invoice.due_date,
        invoice.currency,
        invoice.vendor.name,
        vendor_key(invoice.vendor.name),
        number_key(invoice.invoice_number),
        invoice.customer.name,
        invoice.subtotal,
        invoice.total_discount,
        invoice.shipping,
        invoice.total_tax,
        invoice.total,
        invoice.amount_paid,
        invoice.amount_due,
    )


_OTHER_COLUMNS = (
    "id",
    "task_id",
    "tenant",
    "filename",
    "file_sha256",
    "validation_status",
    "status",
    "provider",
    "duplicate_of",
    "confidence_threshold",
    "data",
    "confidence",
    "validation",
    "usage",
)
_JSON_COLUMNS = frozenset({"data", "confidence", "validation", "usage"})


def _placeholders(columns: tuple[str, ...], start: int = 1) -> str:
    return ", ".join(
        f"${n}::jsonb" if name in _JSON_COLUMNS else f"${n}"
        for n, name in enumerate(columns, start=start)
    )


_ALL_COLUMNS = _OTHER_COLUMNS + _INVOICE_COLUMNS
_INSERT_INVOICE = f"""
INSERT INTO invoices ({", ".join(_ALL_COLUMNS)})
VALUES ({_placeholders(_ALL_COLUMNS)})
ON CONFLICT (task_id) DO NOTHING
RETURNING id
"""

# A summary needs two values from the JSON columns: computed by PostgreSQL, so a list page
# neither fetches nor parses the whole extraction of every row.
_DERIVED_COLUMNS = (
    # As printed ("178.50"), not as the numeric(18, 4) column holds it ("178.5000").
    "data ->> 'total' AS printed_total, "
    "coalesce(jsonb_array_length(validation -> 'issues'), 0) AS issue_count"
)
_SUMMARY_COLUMNS = (
    "id, task_id, filename, file_sha256, status, validation_status, review_status, duplicate_of, "
    "document_type, invoice_number, invoice_date, due_date, currency, vendor_name, version, "
    f"created_at, updated_at, {_DERIVED_COLUMNS}"
)

_INSERT_LINE_ITEM = """
INSERT INTO invoice_line_items (
    invoice_id, position, description, quantity, unit, unit_price, tax_rate, amount, product_code
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""

# Held until the transaction ends: the next saver of the same file or number waits, then sees it.
# Both names in one statement, in the order given (select-list items are evaluated left to
# right); a repeated name is taken twice, which a transaction-level lock allows.
_LOCK = """
SELECT pg_advisory_xact_lock(hashtextextended($1, 0)),
       pg_advisory_xact_lock(hashtextextended($2, 0))
"""
_SAVED_BEFORE = "SELECT id, duplicate_of, validation FROM invoices WHERE task_id = $1"

# The first invoice this one repeats; a chain of duplicates points at its root.
_FIND_ORIGINAL = """
SELECT coalesce(duplicate_of, id) AS original, file_sha256 = $2 AS same_file
FROM invoices
WHERE tenant = $1
  AND task_id <> $5
  AND (file_sha256 = $2 OR ($3 <> '' AND $4 <> '' AND vendor_key = $3 AND number_key = $4))
ORDER BY created_at, id
LIMIT 1
"""

_UPDATE_REVIEWED = f"""
UPDATE invoices SET
    ({", ".join(_INVOICE_COLUMNS)}) = ({_placeholders(_INVOICE_COLUMNS, start=3)}),
    data = ${len(_INVOICE_COLUMNS) + 3}::jsonb,
    confidence = ${len(_INVOICE_COLUMNS) + 4}::jsonb,
    validation = ${len(_INVOICE_COLUMNS) + 5}::jsonb,
    validation_status = ${len(_INVOICE_COLUMNS) + 6},
    status = ${len(_INVOICE_COLUMNS) + 7},
    review_status = ${len(_INVOICE_COLUMNS) + 8},
    reviewed_at = now(),
    updated_at = now(),
    version = version + 1
WHERE id = $1 AND version = $2
RETURNING id
"""

_INSERT_REVIEW = """
INSERT INTO invoice_reviews (
    id, invoice_id, reviewer, decision, changes, note, status_before, status_after, validation
) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9::jsonb)
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


def _lock_names(tenant: str, sha256: str | None, vendor: str, number: str) -> list[str]:
    names = []
    if sha256:
        names.append(f"file\x1f{tenant}\x1f{sha256}")
    if vendor and number:
        names.append(f"number\x1f{tenant}\x1f{vendor}\x1f{number}")
    return sorted(names)  # one order for every transaction: no deadlock between two savers


class Repository:
    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    # --- saving -------------------------------------------------------------------------------

    async def save_invoice(
        self,
        *,
        task_id: str,
        tenant: str | None,
        filename: str,
        file_sha256: str | None,
        extraction: Extraction,
        validation: ValidationReport,
        confidence_threshold: float = 0.8,
    ) -> SaveOutcome:
        invoice = extraction.invoice
        tenant_id = tenant_key(tenant)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                # A redelivered save finds no other original either way and conflicts on
                # task_id below: one round trip fewer for every first save.
                names = _lock_names(
                    tenant_id,
                    file_sha256,
                    vendor_key(invoice.vendor.name),
                    number_key(invoice.invoice_number),
                )
                if names:
                    await conn.execute(_LOCK, names[0], names[-1])
                original = await conn.fetchrow(
                    _FIND_ORIGINAL,
                    tenant_id,
                    file_sha256,
                    vendor_key(invoice.vendor.name),
                    number_key(invoice.invoice_number),
                    task_id,
                )
                duplicate_of: str | None = None
                if original is not None:
                    duplicate_of = str(original["original"])
                    reason: DuplicateReason = "file" if original["same_file"] else "number"
                    validation = flag_duplicate(validation, duplicate_of, reason)
                invoice_id = new_invoice_id()
                inserted = await conn.fetchval(
                    _INSERT_INVOICE,
                    invoice_id,
                    task_id,
                    tenant_id,
                    filename,
                    file_sha256,
                    validation.status,
                    validation.status,  # the status until a person reviews it
                    extraction.provider,
                    duplicate_of,
                    confidence_threshold,
                    invoice.model_dump_json(),
                    json.dumps(extraction.confidence),
                    validation.model_dump_json(),
                    extraction.usage.model_dump_json(),
                    *_invoice_values(invoice),
                )
                if inserted is None:
                    # This task was saved before (a redelivery), or by a concurrent save.
                    again = await conn.fetchrow(_SAVED_BEFORE, task_id)
                    if again is None:  # deleted between the two statements
                        raise RuntimeError(f"invoice of {task_id} vanished while saving")
                    return self._saved_before(again)
                await conn.executemany(
                    _INSERT_LINE_ITEM,
                    [
                        _line_item_row(invoice_id, position, item)
                        for position, item in enumerate(invoice.line_items, start=1)
                    ],
                )
        except asyncpg.DataError as exc:
            raise InvoiceNotStorableError(str(exc)) from exc
        return SaveOutcome(
            invoice_id=invoice_id, created=True, duplicate_of=duplicate_of, validation=validation
        )

    @staticmethod
    def _saved_before(row: asyncpg.Record) -> SaveOutcome:
        return SaveOutcome(
            invoice_id=str(row["id"]),
            created=False,
            duplicate_of=row["duplicate_of"],
            validation=ValidationReport.model_validate_json(row["validation"]),
        )

    # --- reading ------------------------------------------------------------------------------

    async def get_invoice_by_task(self, task_id: str) -> StoredInvoice | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM invoices WHERE task_id = $1", task_id)
            if row is None:
                return None
            items = await self._line_items(conn, str(row["id"]))
        columns = dict(row.items())
        for key in _JSON_COLUMNS:
            columns[key] = json.loads(columns[key])
        return StoredInvoice(columns=columns, line_items=[dict(item.items()) for item in items])

    async def list_invoices(self, query: ListInvoices) -> InvoicePage:
        """One page, newest first; raises `CursorError` for a cursor this list did not make."""
        conditions: list[str] = []
        args: list[Any] = []

        def where(condition: str, *values: Any) -> None:
            for value in values:
                args.append(value)
                condition = condition.replace("?", f"${len(args)}", 1)
            conditions.append(condition)

        # Always one tenant: every list query starts on a (tenant, …) index.
        where("tenant = ?", tenant_key(query.tenant))
        if query.status is not None:
            where("status = ?", query.status)
        if query.vendor:
            # Keys hold letters and digits only: no LIKE wildcard can come from the query.
            where("vendor_key LIKE ?", vendor_key(query.vendor) + "%")
        if query.date_from is not None:
            where("invoice_date >= ?", query.date_from)
        if query.date_to is not None:
            where("invoice_date <= ?", query.date_to)
        if query.duplicate is not None:
            where("duplicate_of IS NOT NULL" if query.duplicate else "duplicate_of IS NULL")
        if query.cursor is not None:
            created_at, invoice_id = decode_cursor(query.cursor)
            where("(created_at, id) < (?, ?)", created_at, invoice_id)
        sql = (
            f"SELECT {_SUMMARY_COLUMNS} FROM invoices"
            + (" WHERE " + " AND ".join(conditions) if conditions else "")
            + f" ORDER BY created_at DESC, id DESC LIMIT {query.limit + 1}"
        )
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(sql, *args)
        page = rows[: query.limit]
        next_cursor = None
        if len(rows) > query.limit:
            last = page[-1]
            next_cursor = encode_cursor(last["created_at"], str(last["id"]))
        return InvoicePage(items=[_summary(row) for row in page], next_cursor=next_cursor)

    async def get_invoice(self, tenant: str | None, invoice_id: str) -> SavedInvoice | None:
        """The invoice whole; None when it does not exist or belongs to another tenant (an open
        deployment's invoices are the tenant "")."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT *, {_DERIVED_COLUMNS} FROM invoices WHERE id = $1", invoice_id
            )
            if row is None or row["tenant"] != tenant_key(tenant):
                return None
            items = await self._line_items(conn, invoice_id)
            reviews = await conn.fetch(
                "SELECT * FROM invoice_reviews WHERE invoice_id = $1 ORDER BY created_at, id",
                invoice_id,
            )
        return _saved(row, items, reviews)

    @staticmethod
    async def _line_items(conn: Connection, invoice_id: str) -> list[asyncpg.Record]:
        return await conn.fetch(
            "SELECT * FROM invoice_line_items WHERE invoice_id = $1 ORDER BY position", invoice_id
        )

    # --- reviewing ----------------------------------------------------------------------------

    async def apply_review(self, current: SavedInvoice, change: ReviewChange) -> bool:
        """Write a review if the invoice is still at `current.version`; False if it moved on."""
        invoice = change.invoice
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                updated = await conn.fetchval(
                    _UPDATE_REVIEWED,
                    current.invoice_id,
                    current.version,
                    *_invoice_values(invoice),
                    invoice.model_dump_json(),
                    json.dumps(change.confidence),
                    change.validation.model_dump_json(),
                    change.validation.status,
                    change.status,
                    change.status if change.status in ("approved", "rejected") else None,
                )
                if updated is None:
                    return False
                await conn.execute(
                    "DELETE FROM invoice_line_items WHERE invoice_id = $1", current.invoice_id
                )
                await conn.executemany(
                    _INSERT_LINE_ITEM,
                    [
                        _line_item_row(current.invoice_id, position, item)
                        for position, item in enumerate(invoice.line_items, start=1)
                    ],
                )
                await conn.execute(
                    _INSERT_REVIEW,
                    new_review_id(),
                    current.invoice_id,
                    change.reviewer,
                    change.decision,
                    json.dumps([c.model_dump(mode="json") for c in change.changes]),
                    change.note,
                    current.status,
                    change.status,
                    change.validation.model_dump_json(),
                )
        except asyncpg.DataError as exc:
            raise InvoiceNotStorableError(str(exc)) from exc
        return True


# --- rows to contracts ------------------------------------------------------------------------


def _summary_fields(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "invoice_id": row["id"],
        "task_id": row["task_id"],
        "filename": row["filename"],
        "sha256": row["file_sha256"],
        "status": row["status"],
        "validation_status": row["validation_status"],
        "review_status": row["review_status"],
        "duplicate_of": row["duplicate_of"],
        "document_type": row["document_type"],
        "invoice_number": row["invoice_number"],
        "invoice_date": row["invoice_date"],
        "due_date": row["due_date"],
        "currency": row["currency"],
        "vendor_name": row["vendor_name"],
        "total": row["printed_total"],
        "issue_count": row["issue_count"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _summary(row: asyncpg.Record) -> InvoiceSummary:
    return InvoiceSummary.model_validate(_summary_fields(row))


def _saved(
    row: asyncpg.Record, items: list[asyncpg.Record], reviews: list[asyncpg.Record]
) -> SavedInvoice:
    data = json.loads(row["data"])
    # The line items table is the record; the JSON copy is what was extracted.
    data["line_items"] = [{key: item[key] for key in LineItem.model_fields} for item in items]
    return SavedInvoice.model_validate(
        {
            **_summary_fields(row),
            "invoice": data,
            "confidence": json.loads(row["confidence"]),
            "validation": json.loads(row["validation"]),
            "confidence_threshold": float(row["confidence_threshold"]),
            "provider": row["provider"],
            "usage": json.loads(row["usage"]),
            "reviews": [_review(review) for review in reviews],
        }
    )


def _review(row: asyncpg.Record) -> Review:
    return Review(
        review_id=row["id"],
        reviewer=row["reviewer"],
        decision=row["decision"],
        changes=[FieldChange.model_validate(c) for c in json.loads(row["changes"])],
        note=row["note"],
        status_before=row["status_before"],
        status_after=row["status_after"],
        created_at=row["created_at"],
    )
