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

# A German invoice with two VAT rates, a discount, shipping and a part payment.
#   lines: 10 × 120.00 + 3 × 49.90 + 2 × 24.95 = 1200.00 + 149.70 + 49.90 = 1399.60 (subtotal)
#   19 %: 1200.00 + 149.70 − 49.60 discount + 20.00 shipping = 1320.10 → 250.819 ≈ 250.82
#    7 %: 49.90 → 3.493 ≈ 3.49;  tax 250.82 + 3.49 = 254.31
#   total: 1399.60 − 49.60 + 20.00 + 254.31 = 1624.31;  due: 1624.31 − 500.00 = 1124.31
CLEAN: dict[str, Any] = {
    "document_type": "invoice",
    "invoice_number": "RE-2026-0417",
    "invoice_date": "2026-11-01",
    "due_date": "2026-12-01",
    "currency": "EUR",
    "vendor": {
        "name": "ACME Software GmbH",
        "address": "Hauptstraße 1, 50667 Köln",
        "tax_id": "DE136695976",
    },
    "customer": {"name": "Muster AG", "tax_id": "DE 123 456 789"},
    "payment_terms": "30 days net",
    "subtotal": "1399.60",
    "total_discount": "49.60",
    "shipping": "20.00",
    "total_tax": "254.31",
    "total": "1624.31",
    "amount_paid": "500.00",
    "amount_due": "1124.31",
    "tax_details": [
        {"rate": "19", "base": "1320.10", "amount": "250.82"},
        {"rate": "7", "base": "49.90", "amount": "3.49"},
    ],
    "line_items": [
        {
            "description": "Consulting",
            "quantity": "10",
            "unit": "h",
            "unit_price": "120.00",
            "tax_rate": "19",
            "amount": "1200.00",
        },
        {
            "description": "Licence",
            "quantity": "3",
            "unit_price": "49.90",
            "tax_rate": "19",
            "amount": "149.70",
        },
        {
            "description": "Handbook",
            "quantity": "2",
            "unit_price": "24.95",
            "tax_rate": "7",
            "amount": "49.90",
        },
    ],
    "payment": {
        "iban": "DE89 3704 0044 0532 0130 00",
        "bic": "COBADEFFXXX",
        "reference": "RE-2026-0417",
    },
}
CONFIDENT = {"total": 0.99, "vendor.name": 0.8, "invoice_date": 0.95}

Found = list[tuple[str, str | None, str]]


def invoice(**changes: Any) -> Invoice:
    return Invoice.model_validate({**CLEAN, **changes})


def lines(*amounts: tuple[str | None, str | None, str | None]) -> list[dict[str, Any]]:
    return [{"quantity": q, "unit_price": p, "amount": a} for q, p, a in amounts]


def with_line(index: int, **changes: Any) -> list[dict[str, Any]]:
    items = [dict(item) for item in CLEAN["line_items"]]
    items[index].update(changes)
    return items


def with_tax(index: int, **changes: Any) -> list[dict[str, Any]]:
    details = [dict(detail) for detail in CLEAN["tax_details"]]
    details[index].update(changes)
    return details


def check(inv: Invoice, confidence: dict[str, float] | None = None) -> Found:
    report = validate(inv, confidence or {}, THRESHOLD, today=TODAY)
    return [(issue.code, issue.field, issue.severity) for issue in report.issues]


def test_clean_invoice_is_valid() -> None:
    report = validate(invoice(), CONFIDENT, THRESHOLD, today=TODAY)
    assert report.status == "valid"
    assert report.issues == []


def _planted(
    id: str, changes: dict[str, Any], code: str, field: str, severity: str = "error"
) -> Any:
    return pytest.param(changes, (code, field, severity), id=id)


PLANTED = [
    # --- required fields
    _planted("no-total", {"total": None}, "missing_field", "total"),
    _planted("no-vendor", {"vendor": {"name": None}}, "missing_field", "vendor.name"),
    _planted("blank-vendor", {"vendor": {"name": "  "}}, "missing_field", "vendor.name"),
    _planted("no-date", {"invoice_date": None}, "missing_field", "invoice_date"),
    _planted("invoice-without-number", {"invoice_number": None}, "missing_field", "invoice_number"),
    _planted(
        "credit-note-without-number",
        {"invoice_number": None, "document_type": "credit_note"},
        "missing_field",
        "invoice_number",
    ),
    _planted(
        "unknown-type-without-number",
        {"invoice_number": None, "document_type": None},
        "missing_field",
        "invoice_number",
    ),
    # --- arithmetic
    _planted(
        "total-misread", {"total": "1634.31", "amount_due": "1134.31"}, "total_mismatch", "total"
    ),
    _planted("discount-misread", {"total_discount": "46.90"}, "total_mismatch", "total"),
    _planted("shipping-dropped", {"shipping": None}, "total_mismatch", "total"),
    _planted(
        "lines-vs-subtotal",
        {"line_items": with_line(1, quantity="2", amount="99.80")},
        "line_items_mismatch",
        "subtotal",
    ),
    _planted(
        "quantity-times-price",
        {"line_items": with_line(2, quantity="3")},
        "line_amount_mismatch",
        "line_items[2].amount",
        "warning",
    ),
    _planted(
        "tax-details-vs-total-tax",
        {"tax_details": with_tax(1, base="59.90", amount="4.19")},
        "tax_details_mismatch",
        "total_tax",
    ),
    _planted(
        "rate-times-base",
        {"tax_details": with_tax(0, rate="16")},
        "tax_amount_mismatch",
        "tax_details[0].amount",
        "warning",
    ),
    _planted(
        "amount-due-digits-swapped", {"amount_due": "1142.31"}, "amount_due_mismatch", "amount_due"
    ),
    _planted(
        "amount-due-without-amount-paid",
        {"amount_paid": None},
        "amount_due_mismatch",
        "amount_due",
        "warning",
    ),
    # --- dates
    _planted(
        "due-before-issue", {"due_date": "2026-10-31"}, "due_date_before_invoice_date", "due_date"
    ),
    _planted(
        "due-date-year-misread",
        {"due_date": "2029-12-01"},
        "due_date_too_far",
        "due_date",
        "warning",
    ),
    _planted(
        "future",
        {"invoice_date": "2026-11-30", "due_date": "2026-12-30"},
        "invoice_date_in_future",
        "invoice_date",
    ),
    _planted(
        "too-old",
        {"invoice_date": "1989-12-31", "due_date": None},
        "invoice_date_too_old",
        "invoice_date",
    ),
    _planted(
        "very-old",
        {"invoice_date": "2016-11-01", "due_date": "2016-12-01"},
        "invoice_date_very_old",
        "invoice_date",
        "warning",
    ),
    # --- currency and identifiers
    _planted("xyz", {"currency": "XYZ"}, "unknown_currency", "currency"),
    _planted("gold", {"currency": "XAU"}, "unknown_currency", "currency"),
    _planted("mark", {"currency": "DEM"}, "unknown_currency", "currency"),
    _planted(
        "iban-digit-changed",
        {"payment": {"iban": "DE89 3704 0044 0532 0130 01", "bic": "COBADEFFXXX"}},
        "invalid_iban",
        "payment.iban",
    ),
    _planted(
        "iban-digit-dropped",
        {"payment": {"iban": "DE89 3704 0044 0532 0130 0"}},
        "invalid_iban",
        "payment.iban",
    ),
    _planted("bic-too-short", {"payment": {"bic": "COBADEF"}}, "invalid_bic", "payment.bic"),
    _planted(
        "bic-country-digits", {"payment": {"bic": "COBA12FFXXX"}}, "invalid_bic", "payment.bic"
    ),
    _planted(
        "vendor-vat-digit-dropped",
        {"vendor": {"name": "ACME Software GmbH", "tax_id": "DE13669597"}},
        "invalid_vat_number",
        "vendor.tax_id",
    ),
    _planted(
        "customer-vat-greece-as-gr",
        {"customer": {"name": "Alpha AE", "tax_id": "GR094259216"}},
        "invalid_vat_number",
        "customer.tax_id",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), PLANTED)
def test_each_rule_catches_its_planted_mistake(
    changes: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    report = validate(invoice(**changes), CONFIDENT, THRESHOLD, today=TODAY)
    found = [(issue.code, issue.field, issue.severity) for issue in report.issues]
    assert found == [expected]
    assert report.status == ("invalid" if expected[2] == "error" else "needs_review")


def test_a_receipt_needs_no_number() -> None:
    report = validate(
        invoice(invoice_number=None, document_type="receipt"), CONFIDENT, THRESHOLD, today=TODAY
    )

    assert report.status == "valid" and report.issues == []


def test_every_rule_code_has_a_planted_mistake() -> None:
    planted = {param.values[1][0] for param in PLANTED}  # type: ignore[index]
    assert planted | {"low_confidence"} == {
        "missing_field",
        "total_mismatch",
        "line_items_mismatch",
        "line_amount_mismatch",
        "tax_details_mismatch",
        "tax_amount_mismatch",
        "amount_due_mismatch",
        "due_date_before_invoice_date",
        "due_date_too_far",
        "invoice_date_in_future",
        "invoice_date_too_old",
        "invoice_date_very_old",
        "unknown_currency",
        "invalid_iban",
        "invalid_bic",
        "invalid_vat_number",
        "low_confidence",
    }


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


# --- money tolerances -----------------------------------------------------------------------


def test_money_is_compared_within_one_cent() -> None:
    assert check(invoice(total="1624.32", amount_due=None)) == []
    assert check(invoice(total="1624.30", amount_due=None)) == []
    assert check(invoice(total="1624.3201", amount_due=None)) == [
        ("total_mismatch", "total", "error")
    ]
    assert check(invoice(amount_due="1124.32")) == []
    assert check(invoice(amount_due="1124.33")) == [("amount_due_mismatch", "amount_due", "error")]


def test_a_sum_of_n_rounded_values_may_drift_by_n_half_cents() -> None:
    # Six lines of a third each, printed 0.33; the subtotal was rounded from the exact 2.00.
    thirds = lines(*[("1", "0.33", "0.33")] * 6)
    plain: dict[str, Any] = {
        "total_discount": None,
        "shipping": None,
        "total_tax": "0",
        "tax_details": [],
        "amount_paid": None,
        "amount_due": None,
    }
    assert check(invoice(line_items=thirds, subtotal="2.00", total="2.00", **plain)) == []
    assert check(invoice(line_items=thirds, subtotal="2.02", total="2.02", **plain)) == [
        ("line_items_mismatch", "subtotal", "error")
    ]
    # Two lines may drift by one cent only.
    two = lines(("1", "0.33", "0.33"), ("1", "0.33", "0.33"))
    assert check(invoice(line_items=two, subtotal="0.67", total="0.67", **plain)) == []
    assert check(invoice(line_items=two, subtotal="0.68", total="0.68", **plain)) == [
        ("line_items_mismatch", "subtotal", "error")
    ]


def test_tax_details_may_each_be_rounded() -> None:
    # Two rates: the total tax may differ from their sum by one cent, not two.
    assert check(invoice(total_tax="254.32", total="1624.32", amount_due="1124.32")) == []
    assert check(invoice(total_tax="254.33", total="1624.33", amount_due="1124.33")) == [
        ("tax_details_mismatch", "total_tax", "error")
    ]


def test_rate_times_base_allows_half_a_cent_and_the_rounding_of_a_printed_rate() -> None:
    # 19 % of 1320.10 = 250.819: 250.82 is the rounded value, 250.81 is not.
    totals = {"total_tax": "254.30", "total": "1624.30", "amount_due": "1124.30"}
    assert check(invoice(tax_details=with_tax(0, amount="250.81"), **totals)) == [
        ("tax_amount_mismatch", "tax_details[0].amount", "warning")
    ]
    # An effective rate printed to two decimals: 16.67 % of 300.00 = 50.01; 50.00 is within it.
    rounded_rate = [{"rate": "16.67", "base": "300.00", "amount": "50.00"}]
    totals = {"total_tax": "50.00", "total": "1420.00", "amount_due": "920.00"}
    assert check(invoice(tax_details=rounded_rate, **totals)) == []
    # A whole rate is taken as exact: 16 % of 300.00 = 48.00, not 50.00.
    whole_rate = [{"rate": "16", "base": "300.00", "amount": "50.00"}]
    assert check(invoice(tax_details=whole_rate, **totals)) == [
        ("tax_amount_mismatch", "tax_details[0].amount", "warning")
    ]


def test_discount_lowers_the_total_whatever_its_sign() -> None:
    assert check(invoice(total_discount="-49.60")) == []


def test_totals_are_checked_only_when_their_parts_are_known() -> None:
    # No tax: subtotal and total cannot be compared (receipts often omit it).
    assert check(invoice(total_tax=None, total="999.00", amount_due=None)) == []
    # No subtotal: nothing to add up; the lines are then compared with the total.
    assert check(invoice(subtotal=None, total_tax=None, total="1399.60", amount_due=None)) == []


def test_line_items_without_subtotal_add_up_to_the_total() -> None:
    assert check(invoice(subtotal=None, total_tax=None, total="1500.00", amount_due=None)) == [
        ("line_items_mismatch", "total", "error")
    ]


def test_line_items_may_be_priced_net_or_gross() -> None:
    plain = {"total_discount": None, "shipping": None, "amount_due": None}
    # Net lines, no subtotal: lines + tax = total.
    assert check(invoice(subtotal=None, total="1653.91", **plain)) == []
    # Gross lines: they add up to subtotal + tax.
    gross = lines(("1", "1000.00", "1000.00"), ("1", "653.91", "653.91"))
    assert check(invoice(line_items=gross, total="1653.91", **plain)) == []


def test_line_items_are_summed_only_when_every_line_has_an_amount() -> None:
    partial = lines(("10", "120.00", "1200.00"), ("1", None, None))
    assert check(invoice(line_items=partial)) == []
    assert check(invoice(line_items=[])) == []


def test_line_amount_allows_rounding_of_a_printed_unit_price() -> None:
    # 3 × 0.333 = 0.999, printed as 1.00.
    rounded = lines(("3", "0.333", "1.00"))
    plain: dict[str, Any] = {
        "total_discount": None,
        "shipping": None,
        "subtotal": "1.00",
        "total_tax": "0",
        "tax_details": [],
        "amount_due": None,
    }
    assert check(invoice(line_items=rounded, total="1.00", **plain)) == []
    # 1000 × 0.2549 = 254.90 with the unit price printed as 0.25: 1000 half cents of rounding.
    many = lines(("1000", "0.25", "254.90"))
    plain.update(subtotal="254.90", total="254.90")
    assert check(invoice(line_items=many, **plain)) == []
    assert check(invoice(line_items=lines(("1000", "0.26", "254.90")), **plain)) == [
        ("line_amount_mismatch", "line_items[0].amount", "warning")
    ]


def test_amount_paid_lowers_the_amount_due_of_a_credit_note_too() -> None:
    credit = {
        "document_type": "credit_note",
        "subtotal": "-100.00",
        "total_discount": None,
        "shipping": None,
        "total_tax": "-19.00",
        "total": "-119.00",
        "tax_details": [{"rate": "19", "base": "-100.00", "amount": "-19.00"}],
        "line_items": lines(("-1", "100.00", "-100.00")),
        "amount_paid": "19.00",
        "amount_due": "-100.00",
    }
    assert check(invoice(**credit)) == []


# --- currencies with other minor units ------------------------------------------------------

# 3 × 3300 = 9900 yen, 10 % tax = 990, total 10890.
JPY: dict[str, Any] = {
    "currency": "JPY",
    "subtotal": "9900",
    "total_discount": None,
    "shipping": None,
    "total_tax": "990",
    "total": "10890",
    "amount_paid": None,
    "amount_due": "10890",
    "tax_details": [{"rate": "10", "base": "9900", "amount": "990"}],
    "line_items": lines(("3", "3300", "9900")),
    "payment": {},
}

# 5 × 2.500 = 12.500 dinar, 5 % tax = 0.625, total 13.125.
KWD: dict[str, Any] = {
    "currency": "KWD",
    "subtotal": "12.500",
    "total_discount": None,
    "shipping": None,
    "total_tax": "0.625",
    "total": "13.125",
    "amount_paid": None,
    "amount_due": "13.125",
    "tax_details": [{"rate": "5", "base": "12.500", "amount": "0.625"}],
    "line_items": lines(("5", "2.500", "12.500")),
    "payment": {},
}


def test_yen_are_compared_within_one_yen() -> None:
    assert check(invoice(**JPY)) == []
    assert check(invoice(**{**JPY, "total": "10891", "amount_due": "10891"})) == []
    assert check(invoice(**{**JPY, "total": "10892", "amount_due": "10892"})) == [
        ("total_mismatch", "total", "error")
    ]
    # The same one-yen difference is a mismatch in a currency with cents.
    as_euro = {**JPY, "currency": "EUR", "total": "10891", "amount_due": "10891"}
    assert check(invoice(**as_euro)) == [("total_mismatch", "total", "error")]


def _yen(tax: str) -> Invoice:
    """One line of 10455 yen with 10 % tax printed as `tax`."""
    total = str(10455 + int(tax))
    return invoice(
        **{
            **JPY,
            "subtotal": "10455",
            "line_items": lines(("1", "10455", "10455")),
            "tax_details": [{"rate": "10", "base": "10455", "amount": tax}],
            "total_tax": tax,
            "total": total,
            "amount_due": total,
        }
    )


def test_yen_tax_is_rounded_to_whole_yen() -> None:
    # 10 % of 10455 = 1045.5: either neighbour is a correct rounding, 1047 is not.
    assert check(_yen("1045")) == []
    assert check(_yen("1046")) == []
    assert check(_yen("1047")) == [("tax_amount_mismatch", "tax_details[0].amount", "warning")]


def test_dinar_are_compared_within_one_fils() -> None:
    assert check(invoice(**KWD)) == []
    assert check(invoice(**{**KWD, "total": "13.126", "amount_due": "13.126"})) == []
    assert check(invoice(**{**KWD, "total": "13.127", "amount_due": "13.127"})) == [
        ("total_mismatch", "total", "error")
    ]
    # A cent-sized slip, invisible with a two-decimal tolerance, is caught in dinar.
    assert check(invoice(**{**KWD, "amount_due": "13.135"})) == [
        ("amount_due_mismatch", "amount_due", "warning")
    ]
    # 5 % of 12.500 = 0.625: 0.630 is five fils off, far more than half a fils.
    tax = {
        "tax_details": [{"rate": "5", "base": "12.500", "amount": "0.630"}],
        "total_tax": "0.630",
        "total": "13.130",
        "amount_due": "13.130",
    }
    assert check(invoice(**{**KWD, **tax})) == [
        ("tax_amount_mismatch", "tax_details[0].amount", "warning")
    ]


# --- dates ----------------------------------------------------------------------------------


def test_an_invoice_dated_tomorrow_is_accepted() -> None:
    assert check(invoice(invoice_date="2026-11-29", due_date=None)) == []
    assert check(invoice(invoice_date="2026-11-30", due_date=None)) == [
        ("invoice_date_in_future", "invoice_date", "error")
    ]


def test_old_invoices_are_flagged_for_review_then_refused() -> None:
    assert check(invoice(invoice_date="2016-11-28", due_date=None)) == []
    very_old = [("invoice_date_very_old", "invoice_date", "warning")]
    assert check(invoice(invoice_date="2016-11-27", due_date=None)) == very_old
    assert check(invoice(invoice_date="1990-01-01", due_date=None)) == very_old
    assert check(invoice(invoice_date="1989-12-31", due_date=None)) == [
        ("invoice_date_too_old", "invoice_date", "error")
    ]


def test_due_date_may_be_up_to_two_years_after_the_invoice_date() -> None:
    assert check(invoice(invoice_date="2024-02-29", due_date="2026-02-28")) == []
    assert check(invoice(invoice_date="2024-02-29", due_date="2026-03-01")) == [
        ("due_date_too_far", "due_date", "warning")
    ]


def test_today_defaults_to_the_current_date() -> None:
    far = invoice(invoice_date="2999-01-01", due_date=None)
    codes = [issue.code for issue in validate(far, {}, THRESHOLD).issues]
    assert codes == ["invoice_date_in_future"]


# --- identifiers ----------------------------------------------------------------------------


def test_identifiers_are_checked_only_when_printed() -> None:
    assert check(invoice(payment={}, vendor={"name": "ACME"}, customer={})) == []
    assert check(invoice(payment={"iban": " ", "bic": ""})) == []


def test_identifiers_outside_the_eu_vat_area_are_not_checked() -> None:
    for tax_id in ("12-3456789", "W10-1808-31000090", "GB123456789", "CHE-123.456.789 MWST"):
        assert check(invoice(vendor={"name": "ACME", "tax_id": tax_id})) == []


def test_iban_and_vat_numbers_ignore_spacing_and_case() -> None:
    spaced = {"iban": "de89370400440532013000", "bic": "coba de ff xxx"}
    assert check(invoice(payment=spaced, customer={"tax_id": "atu-135.856.27"})) == []


# --- status ---------------------------------------------------------------------------------


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
