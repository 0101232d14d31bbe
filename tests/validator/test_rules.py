"""The validation rules: a clean invoice passes, each rule catches a planted mistake."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from contracts import Invoice, ValidationIssue
from services.validator.rules import RULES, Document, status_of, validate

TODAY = dt.date(2026, 11, 28)
THRESHOLD = 0.8

# 150.00 − 10.00 + 5.00 + 27.55 = 172.55; lines 2 × 50 + 1 × 50 = 150.00.
CLEAN: dict[str, Any] = {
    "document_type": "invoice",
    "invoice_number": "INV-2026-001",
    "invoice_date": "2026-11-01",
    "due_date": "2026-12-01",
    "currency": "EUR",
    "vendor": {"name": "ACME GmbH"},
    "subtotal": "150.00",
    "total_discount": "10.00",
    "shipping": "5.00",
    "total_tax": "27.55",
    "total": "172.55",
    "line_items": [
        {"description": "Widget", "quantity": "2", "unit_price": "50.00", "amount": "100.00"},
        {"description": "Gadget", "quantity": "1", "unit_price": "50.00", "amount": "50.00"},
    ],
}

Found = list[tuple[str, str | None, str]]


def invoice(**changes: Any) -> Invoice:
    return Invoice.model_validate({**CLEAN, **changes})


def lines(*amounts: tuple[str | None, str | None, str | None]) -> list[dict[str, Any]]:
    return [{"quantity": q, "unit_price": p, "amount": a} for q, p, a in amounts]


def check(inv: Invoice, confidence: dict[str, float] | None = None) -> Found:
    report = validate(inv, confidence or {}, THRESHOLD, today=TODAY)
    return [(issue.code, issue.field, issue.severity) for issue in report.issues]


def test_clean_invoice_is_valid() -> None:
    report = validate(invoice(), {"total": 0.99, "vendor.name": 0.8}, THRESHOLD, today=TODAY)
    assert report.status == "valid"
    assert report.issues == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"total": None}, [("missing_field", "total", "error")], id="no-total"),
        pytest.param(
            {"vendor": {"name": None}},
            [("missing_field", "vendor.name", "error")],
            id="no-vendor",
        ),
        pytest.param(
            {"vendor": {"name": "  "}},
            [("missing_field", "vendor.name", "error")],
            id="blank-vendor",
        ),
        pytest.param(
            {"invoice_date": None},
            [("missing_field", "invoice_date", "error")],
            id="no-date",
        ),
        pytest.param(
            {"invoice_number": None},
            [("missing_field", "invoice_number", "error")],
            id="invoice-without-number",
        ),
        pytest.param(
            {"invoice_number": None, "document_type": "credit_note"},
            [("missing_field", "invoice_number", "error")],
            id="credit-note-without-number",
        ),
        pytest.param(
            {"invoice_number": None, "document_type": None},
            [("missing_field", "invoice_number", "error")],
            id="unknown-type-without-number",
        ),
        pytest.param(
            {"invoice_number": None, "document_type": "receipt"},
            [("missing_field", "invoice_number", "warning")],
            id="receipt-without-number",
        ),
        pytest.param({"total": "180.00"}, [("total_mismatch", "total", "error")], id="total"),
        pytest.param(
            {"total_tax": "27.57"}, [("total_mismatch", "total", "error")], id="tax-off-by-2-cents"
        ),
        pytest.param(
            {"shipping": None}, [("total_mismatch", "total", "error")], id="shipping-dropped"
        ),
        pytest.param(
            {"line_items": lines(("2", "50.00", "100.00"), ("1", "40.00", "40.00"))},
            [("line_items_mismatch", "subtotal", "error")],
            id="lines-vs-subtotal",
        ),
        pytest.param(
            {"line_items": lines(("3", "50.00", "100.00"), ("1", "50.00", "50.00"))},
            [("line_amount_mismatch", "line_items[0].amount", "warning")],
            id="quantity-times-price",
        ),
        pytest.param(
            {"due_date": "2026-10-31"},
            [("due_date_before_invoice_date", "due_date", "error")],
            id="due-before-issue",
        ),
        pytest.param(
            {"invoice_date": "2026-11-30", "due_date": "2026-12-30"},
            [("invoice_date_in_future", "invoice_date", "error")],
            id="future",
        ),
        pytest.param(
            {"invoice_date": "1989-12-31", "due_date": None},
            [("invoice_date_too_old", "invoice_date", "error")],
            id="too-old",
        ),
        pytest.param({"currency": "XYZ"}, [("unknown_currency", "currency", "error")], id="xyz"),
        pytest.param({"currency": "XAU"}, [("unknown_currency", "currency", "error")], id="gold"),
        pytest.param({"currency": "DEM"}, [("unknown_currency", "currency", "error")], id="mark"),
    ],
)
def test_each_rule_catches_its_planted_mistake(changes: dict[str, Any], expected: Found) -> None:
    assert check(invoice(**changes)) == expected


def test_low_confidence_names_each_field_below_the_threshold() -> None:
    found = check(invoice(), {"total": 0.5, "vendor.name": 0.79, "currency": 0.8})
    assert found == [
        ("low_confidence", "total", "warning"),
        ("low_confidence", "vendor.name", "warning"),
    ]
    report = validate(invoice(), {"total": 0.5}, THRESHOLD, today=TODAY)
    assert report.status == "needs_review"
    assert "0.50" in report.issues[0].message


def test_threshold_comes_from_the_caller() -> None:
    assert validate(invoice(), {"total": 0.5}, 0.4, today=TODAY).status == "valid"
    assert validate(invoice(), {"total": 0.95}, 1.0, today=TODAY).status == "needs_review"


def test_money_is_compared_within_one_cent() -> None:
    assert check(invoice(total="172.56")) == []
    assert check(invoice(total="172.54")) == []
    assert check(invoice(total="172.5601")) == [("total_mismatch", "total", "error")]


def test_discount_lowers_the_total_whatever_its_sign() -> None:
    assert check(invoice(total_discount="-10.00")) == []


def test_totals_are_checked_only_when_their_parts_are_known() -> None:
    # No tax: subtotal and total cannot be compared (receipts often omit it).
    assert check(invoice(total_tax=None, total="999.00")) == []
    # No subtotal: nothing to add up; the lines are then compared with the total.
    assert check(invoice(subtotal=None, total_tax=None, total="150.00")) == []


def test_line_items_without_subtotal_add_up_to_the_total() -> None:
    assert check(invoice(subtotal=None, total_tax=None, total="160.00")) == [
        ("line_items_mismatch", "total", "error")
    ]


def test_line_items_may_be_priced_net_or_gross() -> None:
    # Net lines, no subtotal: lines + tax = total.
    assert check(invoice(subtotal=None, total_discount=None, shipping=None, total="177.55")) == []
    # Gross lines: they add up to subtotal + tax.
    gross = lines(("1", "100.00", "100.00"), ("1", "77.55", "77.55"))
    assert (
        check(invoice(line_items=gross, total_discount=None, shipping=None, total="177.55")) == []
    )


def test_line_items_are_summed_only_when_every_line_has_an_amount() -> None:
    partial = lines(("2", "50.00", "100.00"), ("1", None, None))
    assert check(invoice(line_items=partial)) == []
    assert check(invoice(line_items=[])) == []


def test_line_amount_allows_rounding_of_a_printed_unit_price() -> None:
    # 3 × 0.333 = 0.999, printed as 1.00.
    rounded = lines(("3", "0.333", "1.00"))
    plain = {"total_discount": None, "shipping": None, "subtotal": "1.00", "total_tax": "0"}
    assert check(invoice(line_items=rounded, total="1.00", **plain)) == []


def test_an_invoice_dated_tomorrow_is_accepted() -> None:
    assert check(invoice(invoice_date="2026-11-29", due_date=None)) == []
    assert check(invoice(invoice_date="1990-01-01", due_date=None)) == []


def test_today_defaults_to_the_current_date() -> None:
    far = invoice(invoice_date="2999-01-01", due_date=None)
    codes = [issue.code for issue in validate(far, {}, THRESHOLD).issues]
    assert codes == ["invoice_date_in_future"]


def test_an_empty_extraction_is_invalid_with_every_missing_field() -> None:
    report = validate(Invoice(), {}, THRESHOLD, today=TODAY)
    assert report.status == "invalid"
    assert [issue.field for issue in report.issues] == [
        "total",
        "vendor.name",
        "invoice_date",
        "invoice_number",
    ]


def _issue(severity: str) -> ValidationIssue:
    return ValidationIssue.model_validate(
        {"code": "x", "field": None, "message": "x", "severity": severity}
    )


def test_status_is_invalid_on_any_error_and_needs_review_on_warnings_only() -> None:
    assert status_of([]) == "valid"
    assert status_of([_issue("warning")]) == "needs_review"
    assert status_of([_issue("warning"), _issue("error")]) == "invalid"


def test_rules_can_be_extended() -> None:
    def no_po(doc: Document) -> Iterator[ValidationIssue]:
        if doc.invoice.purchase_order is None:
            yield ValidationIssue(
                code="missing_purchase_order",
                field="purchase_order",
                message="no PO",
                severity="warning",
            )

    report = validate(invoice(), {}, THRESHOLD, today=TODAY, rules=[*RULES, no_po])
    assert report.status == "needs_review"
    assert [issue.code for issue in report.issues] == ["missing_purchase_order"]
