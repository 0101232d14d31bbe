"""Saving invoices: one transaction, one row per task however often it is saved."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg
import pytest

from contracts import Invoice, ValidationReport
from contracts.store import (
    CountInvoices,
    FieldChange,
    InvoiceStatus,
    ListInvoices,
    ListSavedInvoices,
)
from services.persister.paging import CursorError
from services.persister.repository import (
    InvoiceNotStorableError,
    Repository,
    ReviewChange,
    SaveOutcome,
)
from tests.persister.samples import REPORT, extraction, new_task_id

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
VALID = ValidationReport(status="valid")


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


def assert_words_only(refused: InvoiceNotStorableError) -> None:
    """PostgreSQL's message and DETAIL quote the refused values: neither is passed on."""
    assert str(refused).startswith("the database refused a value (SQLSTATE ")
    assert refused.__cause__ is not None and str(refused.__cause__) not in str(refused)


async def test_text_postgresql_cannot_hold_is_not_storable(repository: Repository) -> None:
    task_id = new_task_id()
    with pytest.raises(InvoiceNotStorableError) as refused:
        await save(repository, task_id, vendor={"name": "ACME\x00"})
    assert_words_only(refused.value)
    assert await repository.get_invoice_by_task(task_id) is None


async def test_an_amount_beyond_the_column_is_not_storable(repository: Repository) -> None:
    task_id = new_task_id()
    with pytest.raises(InvoiceNotStorableError) as refused:
        await save(repository, task_id, total="1000000000000000.00")
    assert_words_only(refused.value)
    assert await repository.get_invoice_by_task(task_id) is None


async def test_an_unknown_task_has_no_invoice(repository: Repository) -> None:
    assert await repository.get_invoice_by_task(new_task_id()) is None


# --- duplicates -------------------------------------------------------------------------------


def random_sha() -> str:
    return uuid.uuid4().hex * 2


async def save_one(
    repository: Repository,
    *,
    tenant: str | None = "tenant-a",
    sha256: str | None = None,
    report: ValidationReport = VALID,
    **changes: Any,
) -> SaveOutcome:
    return await repository.save_invoice(
        task_id=new_task_id(),
        tenant=tenant,
        filename="invoice.pdf",
        file_sha256=sha256 or random_sha(),
        extraction=extraction(**changes),
        validation=report,
    )


async def test_the_same_vendor_and_number_is_flagged_duplicate_of_the_first(
    repository: Repository,
) -> None:
    first = await save_one(repository)
    second = await save_one(repository, vendor={"name": "Acme"}, invoice_number="inv 42")

    assert first.duplicate_of is None and first.validation == VALID
    assert second.created is True  # kept, never dropped
    assert second.duplicate_of == first.invoice_id
    assert second.validation is not None and second.validation.status == "needs_review"
    assert [i.code for i in second.validation.issues] == ["duplicate_invoice"]
    stored = await repository.get_invoice("tenant-a", second.invoice_id)
    assert stored is not None and stored.duplicate_of == first.invoice_id
    assert stored.status == "needs_review" and stored.validation == second.validation


async def test_the_same_file_is_a_duplicate_whatever_was_read_from_it(
    repository: Repository,
) -> None:
    sha = random_sha()
    first = await save_one(repository, sha256=sha)
    second = await save_one(repository, sha256=sha, invoice_number="OTHER-1")
    third = await save_one(repository, invoice_number="OTHER-1")  # same number as the second

    assert second.duplicate_of == first.invoice_id
    assert second.validation is not None and second.validation.issues[0].field is None
    # A duplicate of a duplicate points at the first of them all.
    assert third.duplicate_of == first.invoice_id


async def test_other_numbers_other_vendors_and_other_tenants_are_not_duplicates(
    repository: Repository,
) -> None:
    first = await save_one(repository)
    others = [
        await save_one(repository, invoice_number="INV-43"),
        await save_one(repository, vendor={"name": "Other Corp"}),
        await save_one(repository, tenant="tenant-b"),
        await save_one(repository, invoice_number=None),
    ]

    assert first.duplicate_of is None
    assert [o.duplicate_of for o in others] == [None, None, None, None]


async def test_concurrent_saves_of_one_invoice_flag_all_but_the_first(
    repository: Repository,
) -> None:
    sha = random_sha()

    results = await asyncio.gather(*(save_one(repository, sha256=sha) for _ in range(6)))

    originals = [r for r in results if r.duplicate_of is None]
    assert len(originals) == 1
    assert {r.duplicate_of for r in results if r is not originals[0]} == {originals[0].invoice_id}


async def test_a_redelivered_duplicate_answers_what_was_stored(repository: Repository) -> None:
    first = await save_one(repository)
    task_id = new_task_id()
    kwargs: dict[str, Any] = {
        "task_id": task_id,
        "tenant": "tenant-a",
        "filename": "again.pdf",
        "file_sha256": random_sha(),
        "extraction": extraction(),
        "validation": VALID,
    }

    saved = await repository.save_invoice(**kwargs)
    again = await repository.save_invoice(**kwargs)

    assert again.created is False
    assert again.duplicate_of == saved.duplicate_of == first.invoice_id
    assert again.validation == saved.validation


# --- listing and reading ----------------------------------------------------------------------


async def test_pages_walk_every_invoice_once_newest_first(repository: Repository) -> None:
    saved = [
        (await save_one(repository, tenant="pages", invoice_number=f"P-{n}")).invoice_id
        for n in range(7)
    ]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await repository.list_invoices(ListInvoices(tenant="pages", limit=3, cursor=cursor))
        seen += [item.invoice_id for item in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break

    assert pages == 3
    assert seen == list(reversed(saved))


async def test_filters_by_status_vendor_dates_and_duplicates(repository: Repository) -> None:
    t = "filters"
    valid = await save_one(repository, tenant=t, invoice_date="2026-01-15")
    review = await save_one(
        repository,
        tenant=t,
        report=REPORT,
        vendor={"name": "Zeta Ltd"},
        invoice_number="Z-1",
        invoice_date="2026-03-01",
    )
    dup = await save_one(repository, tenant=t, invoice_date="2026-01-15")

    async def ids(**query: Any) -> list[str]:
        page = await repository.list_invoices(ListInvoices(tenant=t, **query))
        return [item.invoice_id for item in page.items]

    assert await ids(status="valid") == [valid.invoice_id]
    assert await ids(status="needs_review") == [dup.invoice_id, review.invoice_id]
    assert await ids(vendor="ZETA") == [review.invoice_id]
    assert await ids(vendor="acme gmbh") == [dup.invoice_id, valid.invoice_id]
    assert await ids(vendor="Zeta Ltd.") == [review.invoice_id]
    assert await ids(vendor="acme tools") == []
    assert await ids(date_from=dt.date(2026, 2, 1)) == [review.invoice_id]
    assert await ids(date_to=dt.date(2026, 1, 15)) == [dup.invoice_id, valid.invoice_id]
    assert await ids(duplicate=True) == [dup.invoice_id]
    assert await ids(duplicate=False) == [review.invoice_id, valid.invoice_id]


async def test_counts_per_status_follow_the_filters_but_status(repository: Repository) -> None:
    t = "counts"
    await save_one(repository, tenant=t, invoice_date="2026-01-15")
    await save_one(
        repository, tenant=t, report=REPORT, vendor={"name": "Zeta Ltd"}, invoice_number="Z-1"
    )
    await save_one(repository, tenant=t, invoice_date="2026-01-15")  # a duplicate
    await save_one(repository, tenant="counts-other")

    async def counts(**query: Any) -> tuple[dict[str, int], int]:
        found = await repository.count_invoices(CountInvoices(tenant=t, **query))
        return {str(status): n for status, n in found.counts.items()}, found.total

    none = {"valid": 0, "needs_review": 0, "invalid": 0, "approved": 0, "rejected": 0}
    assert await counts() == ({**none, "valid": 1, "needs_review": 2}, 3)
    assert await counts(vendor="zeta") == ({**none, "needs_review": 1}, 1)
    assert await counts(duplicate=True) == ({**none, "needs_review": 1}, 1)
    assert await counts(date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 1, 31)) == (
        {**none, "valid": 1, "needs_review": 1},
        2,
    )
    assert await counts(vendor="nobody") == (none, 0)


async def test_summaries_carry_the_listed_columns(repository: Repository) -> None:
    saved = await save_one(repository, tenant="summary")

    (item,) = (await repository.list_invoices(ListInvoices(tenant="summary"))).items

    assert item.invoice_id == saved.invoice_id
    assert (item.vendor_name, item.invoice_number, item.total, item.currency) == (
        "ACME GmbH",
        "INV-42",
        "178.50",
        "EUR",
    )
    assert (item.status, item.validation_status, item.review_status) == ("valid", "valid", None)
    assert item.issue_count == 0 and item.version == 1


async def test_a_bad_cursor_is_refused(repository: Repository) -> None:
    with pytest.raises(CursorError):
        await repository.list_invoices(ListInvoices(cursor="garbage"))


async def test_one_invoice_whole_and_only_for_its_tenant(repository: Repository) -> None:
    saved = await save_one(repository, tenant="tenant-a")

    found = await repository.get_invoice("tenant-a", saved.invoice_id)
    assert found is not None
    assert found.invoice == extraction().invoice
    assert [item.description for item in found.invoice.line_items] == ["Widget", "Gadget"]
    assert found.validation == VALID and found.reviews == []
    assert found.confidence_threshold == 0.8
    assert await repository.get_invoice("tenant-b", saved.invoice_id) is None
    assert await repository.get_invoice(None, saved.invoice_id) is None  # the open tenant
    assert await repository.get_invoice("tenant-a", "inv_" + "0" * 32) is None


async def test_open_invoices_are_not_listed_to_a_tenant(repository: Repository) -> None:
    saved = await save_one(repository, tenant=None)

    listed = await repository.list_invoices(ListInvoices(tenant="tenant-a", limit=200))
    assert saved.invoice_id not in [i.invoice_id for i in listed.items]
    opened = await repository.list_invoices(ListInvoices(tenant=None, limit=200))
    assert saved.invoice_id in [i.invoice_id for i in opened.items]


# --- review writes ----------------------------------------------------------------------------


def review_change(invoice: Invoice, status: InvoiceStatus = "approved") -> ReviewChange:
    return ReviewChange(
        invoice=invoice,
        confidence={"total": 1.0},
        validation=VALID,
        status=status,
        reviewer="rita",
        decision="approve" if status == "approved" else "reject",
        changes=[FieldChange(field="total", old="178.50", new="178.40")],
        note="checked against the paper copy",
    )


async def test_a_review_rewrites_the_invoice_and_appends_to_the_trail(
    repository: Repository,
) -> None:
    saved = await save_one(repository, report=REPORT)
    current = await repository.get_invoice("tenant-a", saved.invoice_id)
    assert current is not None
    corrected = extraction(total="178.40", line_items=[]).invoice

    assert await repository.apply_review(current, review_change(corrected)) is True

    after = await repository.get_invoice("tenant-a", saved.invoice_id)
    assert after is not None
    assert after.invoice.total == Decimal("178.40") and after.invoice.line_items == []
    assert (after.status, after.review_status, after.version) == ("approved", "approved", 2)
    assert after.validation == VALID and after.confidence == {"total": 1.0}
    (entry,) = after.reviews
    assert (entry.reviewer, entry.decision, entry.status_before, entry.status_after) == (
        "rita",
        "approve",
        "needs_review",
        "approved",
    )
    assert entry.changes[0].new == "178.40" and entry.note == "checked against the paper copy"


async def test_a_review_of_a_stale_version_writes_nothing(repository: Repository) -> None:
    saved = await save_one(repository, report=REPORT)
    current = await repository.get_invoice("tenant-a", saved.invoice_id)
    assert current is not None
    assert await repository.apply_review(current, review_change(current.invoice)) is True

    stale = await repository.apply_review(current, review_change(current.invoice, "rejected"))

    after = await repository.get_invoice("tenant-a", saved.invoice_id)
    assert stale is False
    assert after is not None and after.status == "approved" and len(after.reviews) == 1


# --- pages of whole invoices (the export's) ---------------------------------------------------


async def save_several(repository: Repository, prefix: str, count: int) -> tuple[str, list[str]]:
    """`count` invoices of a tenant of their own (numbered `<prefix>-0`…), oldest first."""
    tenant = f"{prefix}-{uuid.uuid4().hex[:8]}"
    saved = [
        (await save_one(repository, tenant=tenant, invoice_number=f"{prefix}-{n}")).invoice_id
        for n in range(count)
    ]
    return tenant, saved


async def test_whole_pages_hold_what_get_invoice_answers_in_the_list_order(
    repository: Repository,
) -> None:
    t, saved = await save_several(repository, "whole", 5)
    reviewed = await repository.get_invoice(t, saved[2])
    assert reviewed is not None
    assert await repository.apply_review(reviewed, review_change(reviewed.invoice))

    seen = []
    cursor = None
    while True:
        page = await repository.list_saved_invoices(
            ListSavedInvoices(tenant=t, limit=2, cursor=cursor)
        )
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break

    assert [invoice.invoice_id for invoice in seen] == list(reversed(saved))
    for invoice in seen:
        assert invoice == await repository.get_invoice(t, invoice.invoice_id)
    assert [len(invoice.reviews) for invoice in seen] == [0, 0, 1, 0, 0]
    assert all(invoice.line_items for invoice in seen)


async def test_a_whole_page_stops_where_its_json_would_pass_max_bytes(
    repository: Repository,
) -> None:
    t, saved = await save_several(repository, "bytes", 4)
    one = await repository.get_invoice(t, saved[0])
    assert one is not None
    size = len(one.model_dump_json())

    two = await repository.list_saved_invoices(ListSavedInvoices(tenant=t, max_bytes=2 * size + 10))
    assert [i.invoice_id for i in two.items] == [saved[3], saved[2]]
    assert two.next_cursor is not None
    rest = await repository.list_saved_invoices(
        ListSavedInvoices(tenant=t, cursor=two.next_cursor, max_bytes=2 * size + 10)
    )
    assert [i.invoice_id for i in rest.items] == [saved[1], saved[0]]
    assert rest.next_cursor is None
    # One invoice larger than the budget still comes, alone: a page is never empty.
    alone = await repository.list_saved_invoices(ListSavedInvoices(tenant=t, max_bytes=1024))
    assert len(alone.items) == 1 and alone.next_cursor is not None
