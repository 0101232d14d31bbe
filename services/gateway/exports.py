"""Every saved invoice matching the list's filters as one download: CSV or JSON Lines, streamed.

The gateway pages through the store in the list's order (newest first), each page of invoices
whole in one request (`ListSavedInvoices`: up to 200, cut to what fits in half a NATS message),
so memory stays flat however many invoices match and a page costs one round trip, not one per
invoice. Should the store fail half way, the stream is cut off
without its final chunk: a client sees a broken transfer, never a short file that looks complete.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Literal

from contracts.store import MAX_PAGE_SIZE, ListInvoices, ListSavedInvoices

ExportListFormat = Literal["csv", "jsonl"]

# The spec's columns, in its order (api.md §6 "Export").
CSV_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "status",
    "document_type",
    "invoice_number",
    "invoice_date",
    "due_date",
    "currency",
    "vendor_name",
    "vendor_tax_id",
    "customer_name",
    "subtotal",
    "total_tax",
    "total",
    "amount_due",
    "duplicate_of",
    "created_at",
)
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}

Json = dict[str, Any]
ListSavedPage = Callable[[ListSavedInvoices], Awaitable[Json]]


def csv_row(saved: Mapping[str, Any]) -> dict[str, str]:
    """One saved invoice as the export's CSV row; unknown values are empty cells."""
    invoice = saved.get("invoice") or {}
    vendor = invoice.get("vendor") or {}
    customer = invoice.get("customer") or {}
    values: dict[str, Any] = {
        "invoice_id": saved.get("invoice_id"),
        "status": saved.get("status"),
        "document_type": invoice.get("document_type"),
        "invoice_number": invoice.get("invoice_number"),
        "invoice_date": invoice.get("invoice_date"),
        "due_date": invoice.get("due_date"),
        "currency": invoice.get("currency"),
        "vendor_name": vendor.get("name"),
        "vendor_tax_id": vendor.get("tax_id"),
        "customer_name": customer.get("name"),
        "subtotal": invoice.get("subtotal"),
        "total_tax": invoice.get("total_tax"),
        "total": invoice.get("total"),
        "amount_due": invoice.get("amount_due"),
        "duplicate_of": saved.get("duplicate_of"),
        "created_at": saved.get("created_at"),
    }
    return {column: "" if values[column] is None else str(values[column]) for column in CSV_COLUMNS}


class CsvLines:
    """RFC 4180 lines (CRLF ends, fields with a comma, quote or line break quoted), one writer
    for the whole export."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.DictWriter(self._buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")

    def header(self) -> str:
        self._writer.writeheader()
        return self._take()

    def row(self, saved: Mapping[str, Any]) -> str:
        self._writer.writerow(csv_row(saved))
        return self._take()

    def _take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


def page_query(query: ListInvoices, cursor: str | None, max_bytes: int) -> ListSavedInvoices:
    return ListSavedInvoices(
        **query.model_dump(exclude={"cursor", "limit"}),
        cursor=cursor,
        limit=MAX_PAGE_SIZE,
        max_bytes=max_bytes,
    )


async def matching_invoices(
    first_query: ListSavedInvoices, first_page: Json, list_page: ListSavedPage
) -> AsyncIterator[Json]:
    """Every invoice the query matches, whole, in the list's order, from its first page (asked
    before the response starts, so a refused query or an absent store is a plain error)."""
    page = first_page
    while True:
        items: list[Json] = list(page.get("items") or [])
        for saved in items:
            yield saved
        cursor = page.get("next_cursor")
        if not cursor or not items:
            return
        page = await list_page(first_query.model_copy(update={"cursor": cursor}))


async def export_lines(
    export_format: ExportListFormat,
    first_query: ListSavedInvoices,
    first_page: Json,
    list_page: ListSavedPage,
) -> AsyncIterator[bytes]:
    lines = CsvLines() if export_format == "csv" else None
    if lines is not None:
        yield lines.header().encode()
    async for saved in matching_invoices(first_query, first_page, list_page):
        if lines is not None:
            yield lines.row(saved).encode()
        else:
            yield (json.dumps(saved, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
