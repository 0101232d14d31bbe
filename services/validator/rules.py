"""Validation rules for an extracted invoice. Pure: no NATS, no clock unless none is given.

Each rule is a small function from a `Document` to the issues it finds; `RULES` lists them in
the order their issues are reported, so a new rule is one function and one list entry. Issue
codes are stable: clients and the docs key on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from contracts import Invoice, ValidationIssue, ValidationReport
from contracts.messages import Severity, ValidationStatus
from services.validator.currencies import ACTIVE_CURRENCIES

# Printed amounts are rounded to cents, so sums may drift by up to this much.
MONEY_TOLERANCE = Decimal("0.01")
EARLIEST_INVOICE_DATE = dt.date(1990, 1, 1)
# An invoice dated "tomorrow" is usually a time-zone effect, not a mistake.
FUTURE_TOLERANCE = dt.timedelta(days=1)
# Document types whose number is mandatory; a receipt often has none.
NUMBERED_DOCUMENTS = frozenset({"invoice", "credit_note"})


@dataclass(frozen=True)
class Document:
    """What the rules look at: the invoice, its confidence map and the context of the check."""

    invoice: Invoice
    confidence: Mapping[str, float]
    threshold: float
    today: dt.date


Rule = Callable[[Document], Iterator[ValidationIssue]]


def _issue(code: str, field: str | None, message: str, severity: Severity) -> ValidationIssue:
    return ValidationIssue(code=code, field=field, message=message, severity=severity)


def _error(code: str, field: str | None, message: str) -> ValidationIssue:
    return _issue(code, field, message, "error")


def _warning(code: str, field: str | None, message: str) -> ValidationIssue:
    return _issue(code, field, message, "warning")


def _close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= MONEY_TOLERANCE


# --- required fields ------------------------------------------------------------------------


def required_fields(doc: Document) -> Iterator[ValidationIssue]:
    invoice = doc.invoice
    if invoice.total is None:
        yield _error("missing_field", "total", "The total is missing.")
    if not (invoice.vendor.name or "").strip():
        yield _error("missing_field", "vendor.name", "The vendor name is missing.")
    if invoice.invoice_date is None:
        yield _error("missing_field", "invoice_date", "The invoice date is missing.")
    if not (invoice.invoice_number or "").strip():
        # An unknown document type is held to the stricter invoice standard.
        if invoice.document_type == "receipt":
            yield _warning("missing_field", "invoice_number", "The receipt has no number.")
        else:
            yield _error("missing_field", "invoice_number", "The invoice number is missing.")


# --- arithmetic -----------------------------------------------------------------------------


def totals_add_up(doc: Document) -> Iterator[ValidationIssue]:
    """subtotal − discount + shipping + tax = total, when subtotal, tax and total are known."""
    invoice = doc.invoice
    if invoice.subtotal is None or invoice.total_tax is None or invoice.total is None:
        return
    # A discount always lowers the total, whichever sign the document printed it with.
    discount = abs(invoice.total_discount or Decimal(0))
    shipping = invoice.shipping or Decimal(0)
    expected = invoice.subtotal - discount + shipping + invoice.total_tax
    if not _close(expected, invoice.total):
        yield _error(
            "total_mismatch",
            "total",
            f"subtotal − discount + shipping + tax = {expected}, but the total is {invoice.total}.",
        )


def line_items_add_up(doc: Document) -> Iterator[ValidationIssue]:
    """The line amounts sum to the subtotal, or to the total when there is no subtotal.

    Lines may be priced net or gross, so the sum may also differ from the target by the tax.
    """
    invoice = doc.invoice
    amounts = [item.amount for item in invoice.line_items]
    if not amounts or any(amount is None for amount in amounts):
        return
    lines = sum((amount for amount in amounts if amount is not None), Decimal(0))
    tax = invoice.total_tax
    if invoice.subtotal is not None:
        field, target = "subtotal", invoice.subtotal
        candidates = [target] + ([target + tax] if tax is not None else [])
    elif invoice.total is not None:
        field, target = "total", invoice.total
        candidates = [target] + ([target - tax] if tax is not None else [])
    else:
        return
    if not any(_close(lines, candidate) for candidate in candidates):
        yield _error(
            "line_items_mismatch",
            field,
            f"The line items add up to {lines}, but the {field} is {target}.",
        )


def line_amounts(doc: Document) -> Iterator[ValidationIssue]:
    """quantity × unit_price ≈ amount on each line (a warning: line discounts break it)."""
    for index, item in enumerate(doc.invoice.line_items):
        if item.quantity is None or item.unit_price is None or item.amount is None:
            continue
        expected = item.quantity * item.unit_price
        if not _close(expected, item.amount):
            yield _warning(
                "line_amount_mismatch",
                f"line_items[{index}].amount",
                f"Line {index + 1}: {item.quantity} × {item.unit_price} = {expected}, "
                f"but the amount is {item.amount}.",
            )


# --- dates ----------------------------------------------------------------------------------


def due_date_order(doc: Document) -> Iterator[ValidationIssue]:
    invoice = doc.invoice
    if invoice.due_date is None or invoice.invoice_date is None:
        return
    if invoice.due_date < invoice.invoice_date:
        yield _error(
            "due_date_before_invoice_date",
            "due_date",
            f"The due date {invoice.due_date} is before the invoice date {invoice.invoice_date}.",
        )


def invoice_date_plausible(doc: Document) -> Iterator[ValidationIssue]:
    date = doc.invoice.invoice_date
    if date is None:
        return
    if date > doc.today + FUTURE_TOLERANCE:
        yield _error(
            "invoice_date_in_future", "invoice_date", f"The invoice date {date} is in the future."
        )
    if date < EARLIEST_INVOICE_DATE:
        yield _error(
            "invoice_date_too_old",
            "invoice_date",
            f"The invoice date {date} is before {EARLIEST_INVOICE_DATE.year}.",
        )


# --- currency and confidence ----------------------------------------------------------------


def currency_known(doc: Document) -> Iterator[ValidationIssue]:
    currency = doc.invoice.currency
    if currency is not None and currency not in ACTIVE_CURRENCIES:
        yield _error(
            "unknown_currency", "currency", f"{currency} is not an active ISO 4217 currency."
        )


def confidence_above_threshold(doc: Document) -> Iterator[ValidationIssue]:
    for field in sorted(doc.confidence):
        score = doc.confidence[field]
        if score < doc.threshold:
            yield _warning(
                "low_confidence",
                field,
                f"Confidence {score:.2f} for {field} is below {doc.threshold:.2f}.",
            )


RULES: list[Rule] = [
    required_fields,
    totals_add_up,
    line_items_add_up,
    line_amounts,
    due_date_order,
    invoice_date_plausible,
    currency_known,
    confidence_above_threshold,
]


def status_of(issues: Sequence[ValidationIssue]) -> ValidationStatus:
    if any(issue.severity == "error" for issue in issues):
        return "invalid"
    return "needs_review" if issues else "valid"


def validate(
    invoice: Invoice,
    confidence: Mapping[str, float],
    threshold: float,
    *,
    today: dt.date | None = None,
    rules: Sequence[Rule] = RULES,
) -> ValidationReport:
    """Run every rule; `today` defaults to the current UTC date."""
    doc = Document(
        invoice=invoice,
        confidence=confidence,
        threshold=threshold,
        today=today or dt.datetime.now(dt.UTC).date(),
    )
    issues = [issue for rule in rules for issue in rule(doc)]
    return ValidationReport(status=status_of(issues), issues=issues)
