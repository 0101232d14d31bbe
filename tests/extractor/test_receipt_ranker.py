"""The receipt ranker: a JSON linear model, softmax shares pooled by value, calibration; and the
committed model reads the committed sample of OCR lines as it did when it was trained."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from services.extractor.ocr import OcrLine
from services.extractor.receipt_candidates import Candidate
from services.extractor.receipt_parser import parse_receipt
from services.extractor.receipt_ranker import (
    MODEL_PATH,
    LinearScorer,
    Ranker,
    load_ranker,
    shipped_ranker,
)
from services.extractor.receipt_rows import rows_from_ocr

SAMPLE = Path(__file__).parent / "fixtures" / "receipt_ranker_sample.json"


def candidate(value: str, **features: float) -> Candidate:
    return Candidate(value, (), features)


SCORER = LinearScorer(("label", "size"), (0.0, 1.0), (1.0, 2.0), (2.0, 1.0))


def test_a_linear_scorer_scales_then_weighs() -> None:
    # 2 * (1 - 0) / 1 + 1 * (5 - 1) / 2
    assert SCORER.score({"label": 1.0, "size": 5.0}) == pytest.approx(4.0)
    assert SCORER.score({}) == pytest.approx(-0.5)  # a missing feature counts as 0


def test_the_ranker_round_trips_through_json() -> None:
    ranker = Ranker({"total": SCORER}, {"total": [(0.0, 0.2), (0.9, 0.99)]}, {"seed": 1})

    again = Ranker.from_json(json.loads(json.dumps(ranker.to_json())))

    assert again == Ranker({"total": SCORER}, {"total": [(0.0, 0.2), (0.9, 0.99)]}, {"seed": 1})


def test_the_best_candidate_wins_and_equal_values_pool_their_shares() -> None:
    ranker = Ranker({"total": SCORER})
    # One strong "7.00" against two weaker "6.35" that together outweigh it.
    candidates = [
        candidate("7.00", label=1.0, size=1.0),
        candidate("6.35", label=0.8, size=1.0),
        candidate("6.35", label=0.8, size=1.0),
    ]

    picked = ranker.pick("total", candidates)

    assert picked is not None and picked.candidate.value == "7.00"
    weights = [math.exp(SCORER.score(c.features)) for c in candidates]
    assert picked.share == pytest.approx(weights[0] / sum(weights))
    alone = ranker.pick("total", candidates[:2])
    assert alone is not None and alone.share > picked.share


def test_no_candidates_or_no_model_no_pick() -> None:
    assert Ranker({"total": SCORER}).pick("total", []) is None
    assert Ranker({}).pick("total", [candidate("1.00")]) is None


def test_confidence_is_the_calibrated_bucket() -> None:
    ranker = Ranker({}, {"total": [(0.0, 0.1), (0.5, 0.6), (0.9, 0.99)]})

    assert ranker.confidence("total", 0.2) == 0.1
    assert ranker.confidence("total", 0.5) == 0.6
    assert ranker.confidence("total", 0.97) == 0.99
    assert ranker.confidence("vendor.name", 0.42) == 0.42  # no table: the raw score


def test_the_shipped_model_loads_without_running_code() -> None:
    assert MODEL_PATH.stat().st_size < 5 * 1024 * 1024
    ranker = load_ranker()
    assert set(ranker.scorers) == {"vendor.name", "vendor.address", "total"}
    assert shipped_ranker() == ranker
    assert ranker.meta["receipts"] >= 250 and ranker.meta["folds"] == 5


def test_the_shipped_model_reads_the_sample_as_recorded() -> None:
    sample = json.loads(SAMPLE.read_text())
    assert sample["receipts"]
    for receipt in sample["receipts"]:
        rows = [
            row
            for number, page in enumerate(receipt["pages"], 1)
            for row in rows_from_ocr(
                [OcrLine(i["text"], tuple(i["box"]), i["score"]) for i in page], number
            )
        ]
        parsed = parse_receipt(rows)
        invoice = parsed.invoice
        read = {
            "vendor.name": invoice.vendor.name,
            "vendor.address": invoice.vendor.address,
            "total": None if invoice.total is None else str(invoice.total),
        }
        assert read == receipt["read"], receipt["name"]
        for name, confidence in receipt["confidence"].items():
            assert parsed.confidence.get(name) == confidence, (receipt["name"], name)
