"""`GET /api/invoices/export` against the real store (persister and validator on a NATS server
of the test's own, a PostgreSQL schema of its own): the files parsed back as a user would."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contracts.store import MAX_PAGE_SIZE, ListInvoices, ListSavedInvoices
from services.gateway.exports import CSV_COLUMNS, export_lines, page_query
from tests.gateway.store_stack import AS_A, AS_B, KEYS, Stack, error_of, store_stack


@pytest.fixture
async def stack(private_nats_url: str, schema_dsn: str) -> AsyncIterator[Stack]:
    async with store_stack(private_nats_url, schema_dsn, api_keys=KEYS) as started:
        yield started


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def test_csv_has_the_spec_columns_and_the_invoice_values(stack: Stack) -> None:
    invoice_id = await stack.save(customer={"name": 'Example, "Ltd"\nBerlin'})

    response = await stack.http.get("/api/invoices/export?format=csv", headers=AS_A)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    header, _, _ = response.text.partition("\r\n")
    assert (
        header
        == ",".join(CSV_COLUMNS)
        == (
            "invoice_id,status,document_type,invoice_number,invoice_date,due_date,currency,"
            "vendor_name,vendor_tax_id,customer_name,subtotal,total_tax,total,amount_due,"
            "duplicate_of,created_at"
        )
    )
    (row,) = rows_of(response.text)
    assert row["invoice_id"] == invoice_id
    assert (row["status"], row["document_type"], row["invoice_number"]) == (
        "needs_review",
        "invoice",
        "INV-42",
    )
    assert (row["invoice_date"], row["due_date"], row["currency"]) == (
        "2026-11-02",
        "2026-12-02",
        "EUR",
    )
    assert (row["vendor_name"], row["vendor_tax_id"]) == ("ACME GmbH", "DE123456789")
    # A comma, quotes and a line break survive RFC 4180 quoting.
    assert row["customer_name"] == 'Example, "Ltd"\nBerlin'
    assert (row["subtotal"], row["total_tax"], row["total"]) == ("150.00", "28.50", "178.50")
    assert (row["amount_due"], row["duplicate_of"]) == ("", "")
    assert row["created_at"]


async def test_jsonl_lines_are_the_saved_invoices(stack: Stack) -> None:
    first = await stack.save(invoice_number="J-1")
    second = await stack.save(invoice_number="J-2")

    response = await stack.http.get("/api/invoices/export?format=jsonl", headers=AS_A)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["invoice_id"] for line in lines] == [second, first]  # newest first
    one = await stack.http.get(f"/api/invoices/{first}", headers=AS_A)
    assert lines[1] == one.json()


async def test_filters_and_tenants_apply(stack: Stack) -> None:
    wanted = await stack.save(vendor={"name": "Zeta Supplies"})
    await stack.save(vendor={"name": "Other Corp"})
    await stack.save(tenant="tenant-b", vendor={"name": "Zeta Supplies"})

    response = await stack.http.get(
        "/api/invoices/export", params={"format": "csv", "vendor": "zeta"}, headers=AS_A
    )
    assert [row["invoice_id"] for row in rows_of(response.text)] == [wanted]
    other = await stack.http.get("/api/invoices/export?status=approved", headers=AS_A)
    assert rows_of(other.text) == []
    theirs = await stack.http.get("/api/invoices/export?format=jsonl", headers=AS_B)
    assert wanted not in theirs.text and len(theirs.text.splitlines()) == 1


async def test_the_export_follows_the_store_past_one_page(stack: Stack) -> None:
    count = MAX_PAGE_SIZE + 3
    saved = [await stack.save(invoice_number=f"N-{n}") for n in range(count)]

    response = await stack.http.get("/api/invoices/export", headers=AS_A)

    assert [row["invoice_id"] for row in rows_of(response.text)] == list(reversed(saved))


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("format=xlsx", "validation_error"),
        ("format=csv&limit=5", "validation_error"),
        ("status=lost", "validation_error"),
        ("format=csv&colour=red", "validation_error"),
        ("date_from=yesterday", "validation_error"),
    ],
)
async def test_bad_export_queries_are_refused(stack: Stack, query: str, code: str) -> None:
    response = await stack.http.get(f"/api/invoices/export?{query}", headers=AS_A)
    assert error_of(response) == (422, code)


async def test_without_a_key_the_export_is_refused(stack: Stack) -> None:
    response = await stack.http.get("/api/invoices/export")
    assert response.status_code == 401


async def test_a_store_failure_half_way_ends_the_stream_with_the_error() -> None:
    """Cut off, never completed short: the failure propagates out of the body iterator, which
    makes the server abort the response without its final chunk."""

    class StoreGone(Exception):
        pass

    async def list_page(query: ListSavedInvoices) -> dict[str, Any]:
        raise StoreGone

    first = {"items": [{"invoice_id": "inv_1", "invoice": {}}], "next_cursor": "more"}
    query = page_query(ListInvoices(tenant="t"), None, max_bytes=4096)
    lines = export_lines("csv", query, first, list_page)
    received = [await anext(lines), await anext(lines)]
    assert received[1].startswith(b"inv_1,")
    with pytest.raises(StoreGone):
        await anext(lines)
