"""Validation rules for an extracted invoice. Pure: no NATS, no clock unless none is given.

Each rule is a small function from a `Document` to the issues it finds; `RULES` lists them in
the order their issues are reported, so a new rule is one function and one list entry. Issue
codes are stable snake_case: clients and docs/validation.md key on them.

Severity: an issue is an `error` when the document cannot be right as read (printed amounts that
do not add up, a failed IBAN checksum, a malformed identifier, an impossible date) and a
`warning` when it is merely unusual and a legitimate invoice may show it (a line discount that
breaks quantity × price, tax rounded per line, a ten-year-old invoice, a low confidence).

Money tolerances follow the currency's minor unit `u` (`contracts.currencies.minor_units`: JPY
1, EUR 0.01, KWD 0.001; an unknown or missing currency counts as 2 decimals):

- one printed value against another (subtotal − discount + shipping + tax = total;
  amount due = total − amount paid): `u`. A total is computed from the printed parts, so only
  the last digit may differ.
- a sum of N printed, rounded values against a printed total (line items → subtotal, tax details
  → total tax): `max(u, N × u/2)`, since each rounded value may be off by half a unit.
- quantity × unit price ≈ line amount: `max(u, u/2 + |quantity| × s/2)`, where `s` is the last
  printed digit of the unit price (no coarser than `u`): the amount's rounding plus the unit
  price's, multiplied by the quantity.
- rate × base ≈ tax amount (per tax detail): `u/2 + |base| × r/2 / 100`, the amount's rounding
  plus the rate's; `r` is the last printed digit of a rate printed with two or more decimals
  ("16.67") and 0 for a rate such as "19" or "7.7", which statutory rates are exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from contracts import EInvoiceInfo, Invoice, ValidationIssue, ValidationReport
from contracts.currencies import ACTIVE_CURRENCIES, minor_units
from contracts.messages import Severity, ValidationStatus
from services.validator.identifiers import bic_problem, iban_problem, vat_problem

EARLIEST_INVOICE_DATE = dt.date(1990, 1, 1)
# An invoice dated "tomorrow" is usually a time-zone effect, not a mistake.
FUTURE_TOLERANCE = dt.timedelta(days=1)
# Older than this is possible (an archive being digitised) but worth a look.
VERY_OLD_YEARS = 10
# Payment terms beyond this are almost always a misread year.
LONGEST_PAYMENT_YEARS = 2
# Document types whose number is mandatory; a receipt often has none.
NUMBERED_DOCUMENTS = frozenset({"invoice", "credit_note"})


@dataclass(frozen=True)
class Document:
    """What the rules look at: the invoice, its confidence map and the context of the check."""

    invoice: Invoice
    confidence: Mapping[str, float]
    threshold: float
    today: dt.date

    @property
    def unit(self) -> Decimal:
        """The currency's minor unit as an amount: 0.01 for EUR, 1 for JPY, 0.001 for KWD."""
        return Decimal(1).scaleb(-minor_units(self.invoice.currency))


Rule = Callable[[Document], Iterator[ValidationIssue]]


def _issue(code: str, field: str | None, message: str, severity: Severity) -> ValidationIssue:
    return ValidationIssue(code=code, field=field, message=message, severity=severity)


def _error(code: str, field: str | None, message: str) -> ValidationIssue:
    return _issue(code, field, message, "error")


def _warning(code: str, field: str | None, message: str) -> ValidationIssue:
    return _issue(code, field, message, "warning")


def _close(a: Decimal, b: Decimal, tolerance: Decimal) -> bool:
    return abs(a - b) <= tolerance


def _sum_tolerance(unit: Decimal, count: int) -> Decimal:
    """How far a sum of `count` rounded values may drift from the rounded total."""
    return max(unit, unit / 2 * count)


def _last_digit(value: Decimal) -> Decimal:
    """The place value of the last printed digit: 0.001 for "0.333", 1 for "19"."""
    exponent = value.as_tuple().exponent
    return Decimal(1).scaleb(exponent) if isinstance(exponent, int) else Decimal(0)


# --- required fields ------------------------------------------------------------------------


def required_fields(doc: Document) -> Iterator[ValidationIssue]:
    invoice = doc.invoice
    if invoice.total is None:
        yield _error("missing_field", "total", "The total is missing.")
    if not (invoice.vendor.name or "").strip():
        yield _error("missing_field", "vendor.name", "The vendor name is missing.")
    if invoice.invoice_date is None:
        yield _error("missing_field", "invoice_date", "The invoice date is missing.")
    # Many till receipts print no number: on a receipt none is needed. An unknown document type
    # is held to the stricter invoice standard.
    if not (invoice.invoice_number or "").strip() and invoice.document_type != "receipt":
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
    if not _close(expected, invoice.total, doc.unit):
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
    tolerance = _sum_tolerance(doc.unit, len(amounts))
    if not any(_close(lines, candidate, tolerance) for candidate in candidates):
        yield _error(
            "line_items_mismatch",
            field,
            f"The line items add up to {lines}, but the {field} is {target}.",
        )


def line_amounts(doc: Document) -> Iterator[ValidationIssue]:
    """quantity × unit_price ≈ amount on each line (a warning: line discounts break it)."""
    unit = doc.unit
    for index, item in enumerate(doc.invoice.line_items):
        if item.quantity is None or item.unit_price is None or item.amount is None:
            continue
        expected = item.quantity * item.unit_price
        price_step = min(_last_digit(item.unit_price), unit)
        tolerance = max(unit, unit / 2 + abs(item.quantity) * price_step / 2)
        if not _close(expected, item.amount, tolerance):
            yield _warning(
                "line_amount_mismatch",
                f"line_items[{index}].amount",
                f"Line {index + 1}: {item.quantity} × {item.unit_price} = {expected}, "
                f"but the amount is {item.amount}.",
            )


def tax_details_add_up(doc: Document) -> Iterator[ValidationIssue]:
    """The tax amounts per rate sum to the total tax, when every one is printed."""
    invoice = doc.invoice
    amounts = [detail.amount for detail in invoice.tax_details]
    if not amounts or any(amount is None for amount in amounts) or invoice.total_tax is None:
        return
    taxes = sum((amount for amount in amounts if amount is not None), Decimal(0))
    if not _close(taxes, invoice.total_tax, _sum_tolerance(doc.unit, len(amounts))):
        yield _error(
            "tax_details_mismatch",
            "total_tax",
            f"The tax amounts per rate add up to {taxes}, "
            f"but the total tax is {invoice.total_tax}.",
        )


def tax_amounts(doc: Document) -> Iterator[ValidationIssue]:
    """rate × base ≈ amount on each tax detail (a warning: tax rounded per line breaks it)."""
    half = doc.unit / 2
    for index, detail in enumerate(doc.invoice.tax_details):
        if detail.rate is None or detail.base is None or detail.amount is None:
            continue
        expected = detail.base * detail.rate / 100
        rate_step = _last_digit(detail.rate)
        rate_rounding = rate_step / 2 if rate_step < Decimal("0.1") else Decimal(0)
        tolerance = half + abs(detail.base) * rate_rounding / 100
        if not _close(expected, detail.amount, tolerance):
            yield _warning(
                "tax_amount_mismatch",
                f"tax_details[{index}].amount",
                f"Tax {index + 1}: {detail.rate}% of {detail.base} = {expected}, "
                f"but the amount is {detail.amount}.",
            )


def amount_due_matches(doc: Document) -> Iterator[ValidationIssue]:
    """amount_due = total − amount_paid.

    An error when the amount paid is printed; a warning when it is not and the amount due differs
    from the total, since a deposit or credit may be left unprinted.
    """
    invoice = doc.invoice
    if invoice.total is None or invoice.amount_due is None:
        return
    paid = abs(invoice.amount_paid or Decimal(0))
    # A payment lowers what is owed, whichever sign it is printed with (credit notes: raises).
    expected = invoice.total - paid if invoice.total >= 0 else invoice.total + paid
    if _close(expected, invoice.amount_due, doc.unit):
        return
    if invoice.amount_paid is not None:
        yield _error(
            "amount_due_mismatch",
            "amount_due",
            f"total − paid = {invoice.total} − {paid} = {expected}, "
            f"but the amount due is {invoice.amount_due}.",
        )
    else:
        yield _warning(
            "amount_due_mismatch",
            "amount_due",
            f"The amount due {invoice.amount_due} differs from the total {invoice.total} "
            "and no amount paid is printed.",
        )


# --- dates ----------------------------------------------------------------------------------


def _add_years(date: dt.date, years: int) -> dt.date:
    year = date.year + years
    if year > dt.MAXYEAR:
        return dt.date.max
    if year < dt.MINYEAR:
        return dt.date.min
    try:
        return date.replace(year=year)
    except ValueError:  # 29 February in a year that has none
        return date.replace(year=year, day=28)


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
    elif invoice.due_date > _add_years(invoice.invoice_date, LONGEST_PAYMENT_YEARS):
        yield _warning(
            "due_date_too_far",
            "due_date",
            f"The due date {invoice.due_date} is more than {LONGEST_PAYMENT_YEARS} years "
            f"after the invoice date {invoice.invoice_date}.",
        )


def invoice_date_plausible(doc: Document) -> Iterator[ValidationIssue]:
    date = doc.invoice.invoice_date
    if date is None:
        return
    if date > doc.today + FUTURE_TOLERANCE:
        yield _error(
            "invoice_date_in_future", "invoice_date", f"The invoice date {date} is in the future."
        )
    elif date < EARLIEST_INVOICE_DATE:
        yield _error(
            "invoice_date_too_old",
            "invoice_date",
            f"The invoice date {date} is before {EARLIEST_INVOICE_DATE.year}.",
        )
    elif date < _add_years(doc.today, -VERY_OLD_YEARS):
        yield _warning(
            "invoice_date_very_old",
            "invoice_date",
            f"The invoice date {date} is more than {VERY_OLD_YEARS} years ago.",
        )


# --- currency and identifiers ---------------------------------------------------------------


def currency_known(doc: Document) -> Iterator[ValidationIssue]:
    currency = doc.invoice.currency
    if currency is not None and currency not in ACTIVE_CURRENCIES:
        yield _error(
            "unknown_currency", "currency", f"{currency} is not an active ISO 4217 currency."
        )


def bank_details(doc: Document) -> Iterator[ValidationIssue]:
    """IBAN: country, length and mod-97 check digits; BIC: format."""
    payment = doc.invoice.payment
    if payment.iban and payment.iban.strip():
        problem = iban_problem(payment.iban)
        if problem is not None:
            yield _error("invalid_iban", "payment.iban", problem)
    if payment.bic and payment.bic.strip():
        problem = bic_problem(payment.bic)
        if problem is not None:
            yield _error("invalid_bic", "payment.bic", problem)


def vat_numbers(doc: Document) -> Iterator[ValidationIssue]:
    """EU VAT numbers of vendor and customer match their country's format."""
    invoice = doc.invoice
    for field, value in (
        ("vendor.tax_id", invoice.vendor.tax_id),
        ("customer.tax_id", invoice.customer.tax_id),
    ):
        if value and value.strip():
            problem = vat_problem(value)
            if problem is not None:
                yield _error("invalid_vat_number", field, problem)


# --- confidence -----------------------------------------------------------------------------


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
    tax_details_add_up,
    tax_amounts,
    amount_due_matches,
    due_date_order,
    invoice_date_plausible,
    currency_known,
    bank_details,
    vat_numbers,
    confidence_above_threshold,
]


def status_of(issues: Sequence[ValidationIssue]) -> ValidationStatus:
    """`invalid` on any error, `needs_review` on warnings only (low confidence too), else valid."""
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


def with_einvoice_findings(
    report: ValidationReport, einvoice: EInvoiceInfo | None
) -> ValidationReport:
    """The invoice's own rules plus what the e-invoice standard's checks found (XSD, EN 16931
    Schematron, XRechnung, the XML against the picture), each once."""
    if einvoice is None or not einvoice.issues:
        return report
    seen = {(issue.code, issue.field, issue.message) for issue in report.issues}
    extra = [i for i in einvoice.issues if (i.code, i.field, i.message) not in seen]
    issues = [*report.issues, *extra]
    return ValidationReport(status=status_of(issues), issues=issues)
