"""Measuring the ranker: out-of-fold reads, figures, calibration tables."""

from __future__ import annotations

from bench.ranker_eval import (
    SCORED,
    Outcome,
    calibration,
    cross_validate,
    figures,
    read,
    table,
)
from bench.ranker_training import fit_ranker
from tests.bench.test_ranker_training import RECEIPTS


def outcomes(pairs: list[tuple[float, bool]]) -> list[dict[str, Outcome]]:
    return [{name: Outcome(right, raw, raw) for name in SCORED} for raw, right in pairs]


def test_calibration_is_measured_precision_pulled_down_for_small_buckets() -> None:
    pairs = [(0.1, i % 2 == 0) for i in range(40)] + [(0.99, True)] * 200 + [(0.99, False)]

    table_ = calibration(outcomes(pairs), "total")

    low = dict(table_)
    assert low[0.0] < 0.5  # 20 of 40 right, pulled below 0.5
    assert 0.97 < low[0.99] < 200 / 201  # 200 of 201 right
    confidences = [confidence for _, confidence in table_]
    assert confidences == sorted(confidences)


def test_only_buckets_right_98_percent_of_the_time_are_confident() -> None:
    pairs = [(0.85, i % 10 != 0) for i in range(100)] + [(0.999, True)] * 100

    table_ = dict(calibration(outcomes(pairs), "total"))

    assert table_[0.8] == 0.79  # 90 % right: measured ~0.87, held under the 0.8 line
    assert table_[0.999] > 0.97


def test_a_bucket_too_small_joins_the_one_below() -> None:
    pairs = [(0.5, True)] * 30 + [(0.99, False)] * 3

    assert [low for low, _ in calibration(outcomes(pairs), "total")] == [0.0, 0.5]


def test_every_receipt_is_read_once_by_a_model_that_did_not_see_it() -> None:
    not_fitted = cross_validate(RECEIPTS, k=3, seed=1)
    fitted = [read(receipt, fit_ranker(RECEIPTS)) for receipt in RECEIPTS]

    result = figures(fitted, not_fitted)

    assert len(not_fitted) == len(RECEIPTS)
    assert result["total"].count == len(RECEIPTS)
    assert result["total"].not_fitted == len(RECEIPTS)  # the arithmetic generalises
    assert "| total |" in table(result)
