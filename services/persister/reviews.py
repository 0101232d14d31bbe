"""A person's review of a saved invoice: apply the corrections, re-validate, record who did what.

Knows nothing of NATS: the rules are reached through `check`, a callable the wiring provides.
Concurrent reviews are serialised by the invoice's version: the loser re-reads and re-applies its
corrections on the new state, unless its reviewer asked for a specific version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from contracts import ValidationIssue, ValidationReport
from contracts.store import (
    CheckCorrections,
    CheckedCorrections,
    CheckInvoice,
    ReviewInvoice,
    SavedInvoice,
    StoreErrorCode,
)
from services.persister.corrections import Corrected, CorrectionError, apply_corrections
from services.persister.duplicates import duplicate_warnings, with_warnings
from services.persister.repository import InvoiceNotStorableError, Repository, ReviewChange

Check = Callable[[CheckInvoice], Awaitable[ValidationReport]]
ATTEMPTS = 3


class StoreRefusedError(Exception):
    """The store refuses the request: the `code` and words of the `StoreError` it answers."""

    def __init__(
        self, code: StoreErrorCode, message: str, issues: list[ValidationIssue] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.issues = issues


async def revalidate(
    current: SavedInvoice, corrections: Mapping[str, Any], check: Check
) -> tuple[Corrected, ValidationReport]:
    """`corrections` applied to the saved invoice and the result re-checked by the rules: what a
    review saves, and what `check_corrections` shows before one."""
    try:
        corrected = apply_corrections(current.invoice, current.confidence, corrections)
    except CorrectionError as exc:
        raise StoreRefusedError(StoreErrorCode.INVALID_CORRECTION, str(exc)) from exc
    report = await check(
        CheckInvoice(
            invoice=corrected.invoice,
            confidence=corrected.confidence,
            threshold=current.confidence_threshold,
        )
    )
    # Being a duplicate is a fact about the store, not about the values: it survives.
    return corrected, with_warnings(report, duplicate_warnings(current.validation))


async def check_corrections(
    repository: Repository, request: CheckCorrections, check: Check
) -> CheckedCorrections:
    """The invoice as a review with these corrections would save it, and its findings; nothing
    is written."""
    current = await repository.get_invoice(request.tenant, request.invoice_id)
    if current is None:
        raise StoreRefusedError(StoreErrorCode.INVOICE_NOT_FOUND, "no such invoice")
    corrected, report = await revalidate(current, request.corrections, check)
    return CheckedCorrections(
        invoice=corrected.invoice,
        confidence=corrected.confidence,
        validation=report,
        version=current.version,
    )


async def review_invoice(
    repository: Repository, request: ReviewInvoice, check: Check
) -> SavedInvoice:
    for _ in range(ATTEMPTS):
        current = await repository.get_invoice(request.tenant, request.invoice_id)
        if current is None:
            raise StoreRefusedError(StoreErrorCode.INVOICE_NOT_FOUND, "no such invoice")
        if request.expected_version is not None and request.expected_version != current.version:
            raise StoreRefusedError(
                StoreErrorCode.VERSION_CONFLICT,
                f"the invoice is at version {current.version}, not {request.expected_version}: "
                "reload it and review again",
            )
        corrected, report = await revalidate(current, request.corrections, check)
        errors = [issue for issue in report.issues if issue.severity == "error"]
        if request.decision == "approve" and errors:
            codes = ", ".join(sorted({f"{issue.code} ({issue.field})" for issue in errors}))
            raise StoreRefusedError(
                StoreErrorCode.INVOICE_INVALID,
                f"an invoice with errors cannot be approved: {codes}; correct it or reject it",
                issues=report.issues,
            )
        change = ReviewChange(
            invoice=corrected.invoice,
            confidence=corrected.confidence,
            validation=report,
            status="approved" if request.decision == "approve" else "rejected",
            reviewer=request.reviewer,
            decision=request.decision,
            changes=corrected.changes,
            note=request.note,
        )
        try:
            applied = await repository.apply_review(current, change)
        except InvoiceNotStorableError as exc:
            raise StoreRefusedError(
                StoreErrorCode.INVOICE_NOT_STORABLE,
                "the corrected invoice cannot be stored: a value is out of range for the "
                "database (an amount too large, or a text with a NUL character)",
            ) from exc
        if applied:
            saved = await repository.get_invoice(request.tenant, request.invoice_id)
            if saved is None:  # deleted right after the review
                raise StoreRefusedError(StoreErrorCode.INVOICE_NOT_FOUND, "no such invoice")
            return saved
    raise StoreRefusedError(
        StoreErrorCode.VERSION_CONFLICT, "the invoice kept changing during the review: try again"
    )
