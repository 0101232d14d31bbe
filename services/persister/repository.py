"""Saved invoices in PostgreSQL (asyncpg; knows nothing of NATS).

`save_invoice` is idempotent per task: the invoice row and its line items are written in one
transaction, and a second save of the same task (a redelivered message) writes nothing and
returns what the first wrote. It also flags duplicates: under a transaction-scoped advisory lock
per (tenant, file) and (tenant, vendor, number), so two replicas saving the same invoice at once
still flag the second.

The open (keyless) deployment stores its invoices under the tenant "".
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, TypeAlias

import asyncpg

from contracts import EInvoiceInfo, Extraction, Invoice, LineItem, ValidationReport
from contracts.invoice import INVOICE_MONEY
from contracts.store import (
    INVOICE_STATUSES,
    CountInvoices,
    FieldChange,
    InvoiceCounts,
    InvoicePage,
    InvoiceStatus,
    InvoiceSummary,
    ListInvoices,
    ListSavedInvoices,
    Review,
    ReviewDecision,
    SavedInvoice,
    SavedInvoicePage,
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


def not_storable(exc: asyncpg.DataError) -> InvoiceNotStorableError:
    """Words and the SQLSTATE only: PostgreSQL's message and DETAIL quote the values."""
    return InvoiceNotStorableError(f"the database refused a value (SQLSTATE {exc.sqlstate})")


def new_invoice_id() -> str:
    return f"inv_{uuid.uuid4().hex}"


def new_review_id() -> str:
    return f"rev_{uuid.uuid4().hex}"


def tenant_key(tenant: str | None) -> str:
    return tenant or ""


# --- tables and columns -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    name: str
    # jsonb: sent as JSON text and cast in the statement; read back as text.
    json_columns: frozenset[str] = frozenset()


_INVOICES = _Table(
    "invoices", frozenset({"data", "confidence", "validation", "usage", "einvoice", "evidence"})
)
_LINE_ITEMS = _Table("invoice_line_items")
_REVIEWS = _Table("invoice_reviews", frozenset({"changes", "validation"}))

# The columns an invoice fills by itself, each with how it is read from the invoice; every
# money field of the invoice has a numeric column of its name.
_INVOICE_COLUMNS: dict[str, Callable[[Invoice], Any]] = {
    "document_type": attrgetter("document_type"),
    "invoice_number": attrgetter("invoice_number"),
    "invoice_date": attrgetter("invoice_date"),
    "due_date": attrgetter("due_date"),
    "currency": attrgetter("currency"),
    "vendor_name": attrgetter("vendor.name"),
    "vendor_key": lambda invoice: vendor_key(invoice.vendor.name),
    "number_key": lambda invoice: number_key(invoice.invoice_number),
    "customer_name": attrgetter("customer.name"),
    **{name: attrgetter(name) for name in INVOICE_MONEY},
}

# A line item row: the invoice, the item's place in it, then a column for each of its fields.
_LINE_ITEM_FIELDS = tuple(LineItem.model_fields)
# All fields in one call, as fast as spelling them out (a tuple: there is more than one field).
_line_item_values = attrgetter(*_LINE_ITEM_FIELDS)


def _content_columns(
    invoice: Invoice, confidence: dict[str, float], validation: ValidationReport
) -> dict[str, Any]:
    """What an invoice and its findings fill: written on save, rewritten by a review."""
    return {
        **{name: value_of(invoice) for name, value_of in _INVOICE_COLUMNS.items()},
        "data": invoice.model_dump_json(),
        "confidence": json.dumps(confidence),
        "validation": validation.model_dump_json(),
        "validation_status": validation.status,
    }


def _line_item_rows(invoice_id: str, items: list[LineItem]) -> list[tuple[Any, ...]]:
    return [
        (invoice_id, position, *_line_item_values(item))
        for position, item in enumerate(items, start=1)
    ]


# --- statements built from columns ------------------------------------------------------------


def _placeholders(table: _Table, columns: tuple[str, ...]) -> list[str]:
    return [
        f"${n}::jsonb" if name in table.json_columns else f"${n}"
        for n, name in enumerate(columns, start=1)
    ]


# Cached: the text of a statement is built once per set of columns, not once per call.
@functools.cache
def _insert_sql(table: _Table, columns: tuple[str, ...], tail: str = "") -> str:
    values = ", ".join(_placeholders(table, columns))
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({values}){tail}"


@functools.cache
def _update_sql(table: _Table, columns: tuple[str, ...], keys: tuple[str, ...], also: str) -> str:
    """Sets `columns` (then `also`) in the row whose `keys` match, their values after those of
    the columns; RETURNING id tells the caller whether a row matched."""
    named = columns + keys
    params = _placeholders(table, named)
    pairs = [f"{name} = {param}" for name, param in zip(named, params, strict=True)]
    sets, where = [*pairs[: len(columns)], also], pairs[len(columns) :]
    return f"UPDATE {table.name} SET {', '.join(sets)} WHERE {' AND '.join(where)} RETURNING id"


def _insert(table: _Table, row: dict[str, Any], tail: str = "") -> tuple[str, list[Any]]:
    """The statement inserting `row` (column name to value) and its arguments."""
    return _insert_sql(table, tuple(row), tail), list(row.values())


def _update(
    table: _Table, row: dict[str, Any], keys: dict[str, Any], also: str
) -> tuple[str, list[Any]]:
    """The statement setting `row` in the row that `keys` names, and its arguments."""
    return _update_sql(table, tuple(row), tuple(keys), also), [*row.values(), *keys.values()]


_NEW_TASK_ONLY = " ON CONFLICT (task_id) DO NOTHING RETURNING id"
_INSERT_LINE_ITEM = _insert_sql(_LINE_ITEMS, ("invoice_id", "position", *_LINE_ITEM_FIELDS))
# Besides its columns, a review stamps the row and bumps its version.
_REVIEW_STAMP = "reviewed_at = now(), updated_at = now(), version = version + 1"

# Computed by PostgreSQL for a summary, so a list page neither fetches nor parses the JSON
# columns of every row.
_DERIVED = {
    # As printed ("178.50"), not as the numeric(18, 4) column holds it ("178.5000").
    "printed_total": "data ->> 'total'",
    "issue_count": "coalesce(jsonb_array_length(validation -> 'issues'), 0)",
}
_DERIVED_COLUMNS = ", ".join(f"{sql} AS {name}" for name, sql in _DERIVED.items())
# Each field of InvoiceSummary by the column that holds it: the one of its name but for these.
_SUMMARY_SOURCES = {name: name for name in InvoiceSummary.model_fields} | {
    "invoice_id": "id",
    "sha256": "file_sha256",
    "total": "printed_total",
}
_SUMMARY_COLUMNS = ", ".join(
    [column for column in _SUMMARY_SOURCES.values() if column not in _DERIVED] + [_DERIVED_COLUMNS]
)

# Held until the transaction ends: the next saver of the same file or number waits, then sees it.
# Both names in one statement, in the order given (select-list items are evaluated left to
# right); a repeated name is taken twice, which a transaction-level lock allows.
_LOCK = """
SELECT pg_advisory_xact_lock(hashtextextended($1, 0)),
       pg_advisory_xact_lock(hashtextextended($2, 0))
"""
# Line items and review trails of the invoices with these ids, each invoice's in its order.
_LINE_ITEMS_OF = (
    "SELECT * FROM invoice_line_items WHERE invoice_id = ANY($1::text[])"
    " ORDER BY invoice_id, position"
)
_REVIEWS_OF = (
    "SELECT * FROM invoice_reviews WHERE invoice_id = ANY($1::text[])"
    " ORDER BY invoice_id, created_at, id"
)
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


class _Filters:
    """The WHERE of a list query: conditions with `?` for each value, numbered as added."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.args: list[Any] = []

    @classmethod
    def of(cls, query: ListInvoices | CountInvoices) -> _Filters:
        """The filters a list and its counts share: tenant, vendor, dates, duplicates."""
        filters = cls()
        # Always one tenant: every list query starts on a (tenant, …) index.
        filters.where("tenant = ?", tenant_key(query.tenant))
        if query.vendor:
            # Keys hold letters and digits only: no LIKE wildcard can come from the query.
            filters.where("vendor_key LIKE ?", vendor_key(query.vendor) + "%")
        if query.date_from is not None:
            filters.where("invoice_date >= ?", query.date_from)
        if query.date_to is not None:
            filters.where("invoice_date <= ?", query.date_to)
        if query.duplicate is not None:
            filters.where("duplicate_of IS NOT NULL" if query.duplicate else "duplicate_of IS NULL")
        return filters

    def where(self, condition: str, *values: Any) -> None:
        for value in values:
            self.args.append(value)
            condition = condition.replace("?", f"${len(self.args)}", 1)
        self.conditions.append(condition)

    @property
    def sql(self) -> str:
        return " AND ".join(self.conditions)


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
                duplicate_of, validation = await _check_duplicate(
                    conn,
                    tenant=tenant_id,
                    file_sha256=file_sha256,
                    invoice=invoice,
                    task_id=task_id,
                    validation=validation,
                )
                invoice_id = new_invoice_id()
                row = {
                    "id": invoice_id,
                    "task_id": task_id,
                    "tenant": tenant_id,
                    "filename": filename,
                    "file_sha256": file_sha256,
                    "status": validation.status,  # the status until a person reviews it
                    "provider": extraction.provider,
                    "duplicate_of": duplicate_of,
                    "confidence_threshold": confidence_threshold,
                    "usage": extraction.usage.model_dump_json(),
                    "einvoice": _einvoice_json(extraction.einvoice),
                    "evidence": json.dumps(
                        {k: v.model_dump(mode="json") for k, v in extraction.evidence.items()}
                    ),
                    **_content_columns(invoice, extraction.confidence, validation),
                }
                sql, args = _insert(_INVOICES, row, _NEW_TASK_ONLY)
                if await conn.fetchval(sql, *args) is None:
                    # This task was saved before (a redelivery), or by a concurrent save.
                    return await _saved_before(conn, task_id)
                await conn.executemany(
                    _INSERT_LINE_ITEM, _line_item_rows(invoice_id, invoice.line_items)
                )
        except asyncpg.DataError as exc:
            raise not_storable(exc) from exc
        return SaveOutcome(
            invoice_id=invoice_id, created=True, duplicate_of=duplicate_of, validation=validation
        )

    # --- reading ------------------------------------------------------------------------------

    async def get_invoice_by_task(self, task_id: str) -> StoredInvoice | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM invoices WHERE task_id = $1", task_id)
            if row is None:
                return None
            items = await self._line_items(conn, str(row["id"]))
        columns = dict(row.items())
        for key in _INVOICES.json_columns:
            columns[key] = json.loads(columns[key])
        return StoredInvoice(columns=columns, line_items=[dict(item.items()) for item in items])

    async def list_invoices(self, query: ListInvoices) -> InvoicePage:
        """One page, newest first; raises `CursorError` for a cursor this list did not make."""
        sql, args = _page_query(query, _SUMMARY_COLUMNS)
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(sql, *args)
        page = rows[: query.limit]
        next_cursor = _cursor_after(page[-1]) if len(rows) > query.limit else None
        return InvoicePage(items=[_summary(row) for row in page], next_cursor=next_cursor)

    async def list_saved_invoices(self, query: ListSavedInvoices) -> SavedInvoicePage:
        """A page of the list with each invoice whole, cut where its JSON would pass
        `query.max_bytes` (at least one invoice); three queries, not one per invoice."""
        sql, args = _page_query(query, f"*, {_DERIVED_COLUMNS}")
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(sql, *args)
            page = rows[: query.limit]
            whole = await _whole(conn, page)
        saved: list[SavedInvoice] = []
        size = 0
        for invoice in whole:
            size += len(invoice.model_dump_json()) + 1
            if saved and size > query.max_bytes:
                break
            saved.append(invoice)
        more = len(saved) < len(page) or len(rows) > query.limit
        next_cursor = _cursor_after(page[len(saved) - 1]) if more else None
        return SavedInvoicePage(items=saved, next_cursor=next_cursor)

    async def count_invoices(self, query: CountInvoices) -> InvoiceCounts:
        """How many invoices match the list's filters, per status: one GROUP BY."""
        filters = _Filters.of(query)
        sql = f"SELECT status, count(*) AS n FROM invoices WHERE {filters.sql} GROUP BY status"
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(sql, *filters.args)
        found = {str(row["status"]): int(row["n"]) for row in rows}
        counts = {status: found.get(status, 0) for status in INVOICE_STATUSES}
        return InvoiceCounts.model_validate({"counts": counts, "total": sum(found.values())})

    async def get_invoice(self, tenant: str | None, invoice_id: str) -> SavedInvoice | None:
        """The invoice whole; None when it does not exist or belongs to another tenant (an open
        deployment's invoices are the tenant "")."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT *, {_DERIVED_COLUMNS} FROM invoices WHERE id = $1", invoice_id
            )
            if row is None or row["tenant"] != tenant_key(tenant):
                return None
            (saved,) = await _whole(conn, [row])
        return saved

    @staticmethod
    async def _line_items(conn: Connection, invoice_id: str) -> list[asyncpg.Record]:
        return await conn.fetch(_LINE_ITEMS_OF, [invoice_id])

    # --- reviewing ----------------------------------------------------------------------------

    async def apply_review(self, current: SavedInvoice, change: ReviewChange) -> bool:
        """Write a review if the invoice is still at `current.version`; False if it moved on."""
        keys = {"id": current.invoice_id, "version": current.version}
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                sql, args = _update(_INVOICES, _reviewed_columns(change), keys, _REVIEW_STAMP)
                if await conn.fetchval(sql, *args) is None:
                    return False
                await conn.execute(
                    "DELETE FROM invoice_line_items WHERE invoice_id = $1", current.invoice_id
                )
                await conn.executemany(
                    _INSERT_LINE_ITEM,
                    _line_item_rows(current.invoice_id, change.invoice.line_items),
                )
                sql, args = _insert(_REVIEWS, _review_row(current, change))
                await conn.execute(sql, *args)
        except asyncpg.DataError as exc:
            raise not_storable(exc) from exc
        return True


# --- saving and reviewing ---------------------------------------------------------------------


async def _check_duplicate(
    conn: Connection,
    *,
    tenant: str,
    file_sha256: str | None,
    invoice: Invoice,
    task_id: str,
    validation: ValidationReport,
) -> tuple[str | None, ValidationReport]:
    """The invoice this one repeats, if any, and the findings saying so; locks its file and
    number until the transaction ends."""
    vendor, number = vendor_key(invoice.vendor.name), number_key(invoice.invoice_number)
    names = _lock_names(tenant, file_sha256, vendor, number)
    if names:
        await conn.execute(_LOCK, names[0], names[-1])
    original = await conn.fetchrow(_FIND_ORIGINAL, tenant, file_sha256, vendor, number, task_id)
    if original is None:
        return None, validation
    duplicate_of = str(original["original"])
    reason: DuplicateReason = "file" if original["same_file"] else "number"
    return duplicate_of, flag_duplicate(validation, duplicate_of, reason)


def _lock_names(tenant: str, sha256: str | None, vendor: str, number: str) -> list[str]:
    names = []
    if sha256:
        names.append(f"file\x1f{tenant}\x1f{sha256}")
    if vendor and number:
        names.append(f"number\x1f{tenant}\x1f{vendor}\x1f{number}")
    return sorted(names)  # one order for every transaction: no deadlock between two savers


async def _saved_before(conn: Connection, task_id: str) -> SaveOutcome:
    row = await conn.fetchrow(_SAVED_BEFORE, task_id)
    if row is None:  # deleted between the two statements
        raise RuntimeError(f"invoice of {task_id} vanished while saving")
    return SaveOutcome(
        invoice_id=str(row["id"]),
        created=False,
        duplicate_of=row["duplicate_of"],
        validation=ValidationReport.model_validate_json(row["validation"]),
    )


def _reviewed_columns(change: ReviewChange) -> dict[str, Any]:
    return {
        **_content_columns(change.invoice, change.confidence, change.validation),
        "status": change.status,
        "review_status": change.status if change.status in ("approved", "rejected") else None,
    }


def _review_row(current: SavedInvoice, change: ReviewChange) -> dict[str, Any]:
    return {
        "id": new_review_id(),
        "invoice_id": current.invoice_id,
        "reviewer": change.reviewer,
        "decision": change.decision,
        "changes": json.dumps([c.model_dump(mode="json") for c in change.changes]),
        "note": change.note,
        "status_before": current.status,
        "status_after": change.status,
        "validation": change.validation.model_dump_json(),
    }


# --- rows to contracts ------------------------------------------------------------------------


def _page_query(query: ListInvoices, columns: str) -> tuple[str, list[Any]]:
    """The SELECT of one list page (one row more than `limit`: is there a next page?)."""
    filters = _Filters.of(query)
    if query.status is not None:
        filters.where("status = ?", query.status)
    if query.cursor is not None:
        created_at, invoice_id = decode_cursor(query.cursor)
        filters.where("(created_at, id) < (?, ?)", created_at, invoice_id)
    sql = (
        f"SELECT {columns} FROM invoices WHERE {filters.sql}"
        f" ORDER BY created_at DESC, id DESC LIMIT {query.limit + 1}"
    )
    return sql, filters.args


def _cursor_after(row: asyncpg.Record) -> str:
    return encode_cursor(row["created_at"], str(row["id"]))


async def _whole(conn: Connection, rows: list[asyncpg.Record]) -> list[SavedInvoice]:
    """The invoices of `rows` (read with `_DERIVED_COLUMNS`) whole, in their order: their line
    items and review trails in one query each, however many rows."""
    ids = [str(row["id"]) for row in rows]
    items = await conn.fetch(_LINE_ITEMS_OF, ids)
    reviews = await conn.fetch(_REVIEWS_OF, ids)
    items_of, reviews_of = _grouped(items), _grouped(reviews)
    return [
        _saved(row, items_of.get(key, []), reviews_of.get(key, []))
        for key, row in zip(ids, rows, strict=True)
    ]


def _grouped(rows: list[asyncpg.Record]) -> dict[str, list[asyncpg.Record]]:
    """Rows by their `invoice_id`, in the order given."""
    grouped: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        grouped.setdefault(str(row["invoice_id"]), []).append(row)
    return grouped


def _summary_fields(row: asyncpg.Record) -> dict[str, Any]:
    return {name: row[column] for name, column in _SUMMARY_SOURCES.items()}


def _summary(row: asyncpg.Record) -> InvoiceSummary:
    return InvoiceSummary.model_validate(_summary_fields(row))


def _einvoice_json(einvoice: EInvoiceInfo | None) -> str:
    return "null" if einvoice is None else einvoice.model_dump_json()


def _saved(
    row: asyncpg.Record, items: list[asyncpg.Record], reviews: list[asyncpg.Record]
) -> SavedInvoice:
    data = json.loads(row["data"])
    # The line items table is the record; the JSON copy is what was extracted.
    data["line_items"] = [{key: item[key] for key in _LINE_ITEM_FIELDS} for item in items]
    return SavedInvoice.model_validate(
        {
            **_summary_fields(row),
            "invoice": data,
            "confidence": json.loads(row["confidence"]),
            "validation": json.loads(row["validation"]),
            "confidence_threshold": float(row["confidence_threshold"]),
            "provider": row["provider"],
            "usage": json.loads(row["usage"]),
            "einvoice": json.loads(row["einvoice"]),
            "evidence": json.loads(row["evidence"]),
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
