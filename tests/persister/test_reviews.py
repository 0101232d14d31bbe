"""The review flow on a real store; the rules are a stub here (the real ones: test_app.py)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from contracts import ValidationIssue, ValidationReport
from contracts.store import CheckCorrections, CheckInvoice, ReviewInvoice
from services.persister.repository import Repository
from services.persister.reviews import StoreRefusedError, check_corrections, review_invoice
from tests.persister.samples import save_sample

TOTAL_MISMATCH = ValidationIssue(
    code="total_mismatch", field="total", message="does not add up", severity="error"
)


class Rules:
    """Stands in for the validator: the total must be 178.50; records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[CheckInvoice] = []

    async def __call__(self, request: CheckInvoice) -> ValidationReport:
        self.asked.append(request)
        if request.invoice.total != Decimal("178.50"):
            return ValidationReport(status="invalid", issues=[TOTAL_MISMATCH])
        return ValidationReport(status="valid")


async def saved_invoice(repository: Repository, tenant: str = "tenant-a", **changes: Any) -> str:
    return await save_sample(repository, tenant, threshold=0.9, **changes)


def request(invoice_id: str, **fields: Any) -> ReviewInvoice:
    values: dict[str, Any] = {
        "tenant": "tenant-a",
        "invoice_id": invoice_id,
        "reviewer": "rita@example.com",
        "decision": "approve",
    }
    values.update(fields)
    return ReviewInvoice.model_validate(values)


async def test_correcting_and_approving_revalidates_and_records_who_changed_what(
    repository: Repository,
) -> None:
    invoice_id = await saved_invoice(repository, total="187.50")
    rules = Rules()

    after = await review_invoice(
        repository, request(invoice_id, corrections={"total": "178.50"}, note="typo"), rules
    )

    (asked,) = rules.asked
    assert asked.invoice.total == Decimal("178.50") and asked.threshold == 0.9
    assert asked.confidence["total"] == 1.0
    assert (after.status, after.validation.status, after.version) == ("approved", "valid", 2)
    assert after.invoice.total == Decimal("178.50")
    (entry,) = after.reviews
    assert entry.reviewer == "rita@example.com" and entry.note == "typo"
    assert [(c.field, c.old, c.new) for c in entry.changes] == [("total", "187.50", "178.50")]
    assert (entry.status_before, entry.status_after) == ("needs_review", "approved")


async def test_an_invoice_that_still_has_errors_cannot_be_approved(
    repository: Repository,
) -> None:
    invoice_id = await saved_invoice(repository, total="187.50")

    with pytest.raises(StoreRefusedError) as refused:
        await review_invoice(repository, request(invoice_id), Rules())

    assert refused.value.code == "invoice_invalid"
    assert "total_mismatch (total)" in refused.value.message
    assert refused.value.issues == [TOTAL_MISMATCH]
    unchanged = await repository.get_invoice("tenant-a", invoice_id)
    assert unchanged is not None and unchanged.version == 1 and unchanged.reviews == []


async def test_rejecting_needs_no_valid_invoice(repository: Repository) -> None:
    invoice_id = await saved_invoice(repository, total="187.50")

    after = await review_invoice(repository, request(invoice_id, decision="reject"), Rules())

    assert (after.status, after.review_status, after.validation.status) == (
        "rejected",
        "rejected",
        "invalid",
    )


async def test_a_review_is_refused_for_another_tenant_or_an_unknown_invoice(
    repository: Repository,
) -> None:
    invoice_id = await saved_invoice(repository, tenant="tenant-b")

    for target in (invoice_id, "inv_" + "0" * 32):
        with pytest.raises(StoreRefusedError) as refused:
            await review_invoice(repository, request(target), Rules())
        assert refused.value.code == "invoice_not_found"


async def test_a_bad_correction_is_refused_and_nothing_is_written(
    repository: Repository,
) -> None:
    invoice_id = await saved_invoice(repository)

    with pytest.raises(StoreRefusedError) as refused:
        await review_invoice(repository, request(invoice_id, corrections={"totl": "1"}), Rules())

    assert refused.value.code == "invalid_correction"
    assert "totl" in refused.value.message


async def test_a_stale_expected_version_is_a_conflict(repository: Repository) -> None:
    invoice_id = await saved_invoice(repository)
    await review_invoice(repository, request(invoice_id, decision="reject"), Rules())

    with pytest.raises(StoreRefusedError) as refused:
        await review_invoice(repository, request(invoice_id, expected_version=1), Rules())

    assert refused.value.code == "version_conflict"
    after = await review_invoice(repository, request(invoice_id, expected_version=2), Rules())
    assert after.version == 3 and [r.decision for r in after.reviews] == ["reject", "approve"]


async def test_concurrent_reviews_are_applied_one_after_the_other(
    repository: Repository,
) -> None:
    invoice_id = await saved_invoice(repository)

    results = await asyncio.gather(
        *(review_invoice(repository, request(invoice_id, note=str(n)), Rules()) for n in range(3))
    )

    final = await repository.get_invoice("tenant-a", invoice_id)
    assert final is not None and final.version == 4
    assert sorted(entry.note or "" for entry in final.reviews) == ["0", "1", "2"]
    assert max(r.version for r in results) == 4


async def test_a_duplicate_stays_flagged_after_a_review(repository: Repository) -> None:
    first = await saved_invoice(repository, tenant="dups")
    second = await saved_invoice(repository, tenant="dups")

    after = await review_invoice(
        repository, request(second, tenant="dups", decision="reject"), Rules()
    )

    assert after.duplicate_of == first
    assert [i.code for i in after.validation.issues] == ["duplicate_invoice"]


async def test_checking_corrections_revalidates_like_a_review_and_writes_nothing(
    repository: Repository,
) -> None:
    invoice_id = await saved_invoice(repository, total="187.50")
    rules = Rules()

    def check(corrections: dict[str, Any]) -> CheckCorrections:
        return CheckCorrections(tenant="tenant-a", invoice_id=invoice_id, corrections=corrections)

    before = await check_corrections(repository, check({}), rules)
    fixed = await check_corrections(repository, check({"total": "178,50"}), rules)

    assert [i.code for i in before.validation.issues] == ["total_mismatch"]
    assert fixed.validation.status == "valid" and fixed.validation.issues == []
    assert fixed.invoice.total == Decimal("178.50") and fixed.confidence["total"] == 1.0
    assert fixed.version == 1
    # The rules saw what a review would have saved; the store still holds the old total.
    assert rules.asked[-1].invoice == fixed.invoice and rules.asked[-1].threshold == 0.9
    stored = await repository.get_invoice("tenant-a", invoice_id)
    assert stored is not None and stored.invoice.total == Decimal("187.50")
    assert stored.version == 1 and stored.reviews == []


async def test_checking_bad_corrections_is_refused_as_a_review_is(repository: Repository) -> None:
    invoice_id = await saved_invoice(repository)
    other = await saved_invoice(repository, tenant="tenant-b")

    for target, corrections, code in (
        (invoice_id, {"totl": "1"}, "invalid_correction"),
        (invoice_id, {"invoice_date": "yesterday"}, "invalid_correction"),
        (other, {}, "invoice_not_found"),
    ):
        request = CheckCorrections(tenant="tenant-a", invoice_id=target, corrections=corrections)
        with pytest.raises(StoreRefusedError) as refused:
            await check_corrections(repository, request, Rules())
        assert refused.value.code == code
