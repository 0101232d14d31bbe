"""The review load: receipts read and calibrated without themselves, then the validator."""

from __future__ import annotations

import datetime as dt

from bench.ranker_eval import SCORED, Outcome
from bench.ranker_training import Receipt
from bench.review_load import nested_calibrations, review, summary, tax_id_agreement
from services.extractor.receipt_ranker import Ranker
from services.extractor.receipt_rows import Row
from tests.bench.test_ranker_training import RECEIPTS


def test_a_folds_calibration_comes_from_the_other_folds_only() -> None:
    # Receipts 0-9 are read wrong, 10-29 right, all with the same raw score.
    outcomes = [{name: Outcome(i >= 10, 0.99, 0.0) for name in SCORED} for i in range(30)]

    wrong_fold, right_fold = nested_calibrations(outcomes, [list(range(10)), list(range(10, 30))])

    # Calibrated on the 20 right ones, and on the 10 wrong ones.
    assert Ranker({}, wrong_fold).confidence("total", 0.99) > 0.8
    assert Ranker({}, right_fold).confidence("total", 0.99) < 0.2


def test_every_receipt_is_reviewed_once() -> None:
    reviewed = review(RECEIPTS, k=3, seed=1, l2=3.0, today=dt.date(2018, 6, 1))

    assert sorted(r.name for r in reviewed) == sorted(r.name for r in RECEIPTS)
    assert {r.status for r in reviewed} <= {"valid", "needs_review", "invalid"}
    assert all(set(r.right) == set(SCORED) for r in reviewed)
    text = summary(reviewed)
    assert "valid: " in text and "| total |" in text


def receipt(name: str, company: str, gst: str) -> Receipt:
    rows = (Row(1, (company,)), Row(1, (f"GST ID: {gst}",)))
    return Receipt(name, rows, {"file": name, "company": company, "date": "", "total": "1.00"})


def test_tax_numbers_are_checked_against_the_same_vendors_other_receipts() -> None:
    receipts = [
        receipt("a", "SHOP", "000111222333"),
        receipt("b", "SHOP", "000111222333"),
        receipt("c", "SHOP", "000111222838"),  # misread
        receipt("d", "OTHER", "000999888777"),  # seen once: nothing to compare with
    ]

    assert tax_id_agreement(receipts) == (2, 3)
