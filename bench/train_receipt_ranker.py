"""Fit the receipt ranker on receipts-dev + receipts-train and write the shipped model.

    python -m bench.ocr_cache                      # once: OCR every receipt (minutes)
    python -m bench.train_receipt_ranker [--folds 5] [--seed 13] [--l2 3.0]

Cross-validates first (each receipt read by the model fitted on the other folds), takes the
calibration from those out-of-fold reads, then fits on every receipt and writes
services/extractor/models/receipt_ranker.json with its figures, plus the test fixture
tests/extractor/fixtures/receipt_ranker_sample.json (the OCR lines of a few receipts and what the
shipped model reads from them). Deterministic for a seed; takes seconds once OCR is cached.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.ocr_cache import CACHE, DATA_SETS, cache_path
from bench.ranker_eval import (
    SCORED,
    apply,
    buckets,
    calibrated,
    calibration_table,
    cross_validate,
    figures,
    read,
    table,
)
from bench.ranker_training import L2, Receipt, fit_ranker, load_receipts
from services.extractor.receipt_parser import parse_receipt
from services.extractor.receipt_ranker import MODEL_PATH, Ranker

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "extractor" / "fixtures" / "receipt_ranker_sample.json"
SAMPLE = 5


def train(receipts: Sequence[Receipt], k: int, seed: int, l2: float) -> Ranker:
    not_fitted = cross_validate(receipts, k, seed, l2)
    ranker = calibrated(fit_ranker(receipts, l2), not_fitted)
    fitted = [read(receipt, ranker) for receipt in receipts]
    result = figures(fitted, apply(ranker, not_fitted))
    meta = {
        "what": "receipt ranker: conditional logit per field over receipt_candidates features",
        "trained_on": sorted({r.name.split("/")[0] for r in receipts}),
        "receipts": len(receipts),
        "folds": k,
        "seed": seed,
        "l2": l2,
        "figures": {name: asdict(f) for name, f in result.items()},
        "calibration_buckets": {name: buckets(not_fitted, name) for name in SCORED},
    }
    ranker = Ranker(ranker.scorers, ranker.calibration, meta)
    print(table(result))
    print()
    print(calibration_table(ranker))
    return ranker


def sample(receipts: Sequence[Receipt], ranker: Ranker, count: int) -> dict[str, Any]:
    """A few receipts' cached OCR lines and what the model reads from them."""
    out = []
    for receipt in receipts[:count]:
        data_set, file = receipt.name.split("/", 1)
        data = next(d for d in DATA_SETS if d.name == data_set)
        pages = json.loads(cache_path(data, file, CACHE).read_text())["pages"]
        parsed = parse_receipt(receipt.rows, ranker)
        values = {
            "vendor.name": parsed.invoice.vendor.name,
            "vendor.address": parsed.invoice.vendor.address,
            "total": None if parsed.invoice.total is None else str(parsed.invoice.total),
        }
        confidence = {name: parsed.confidence.get(name) for name in SCORED}
        out.append({"name": receipt.name, "pages": pages, "read": values, "confidence": confidence})
    return {
        "source": "ICDAR 2019 SROIE (CC BY 4.0), OCR by services/extractor/ocr.py",
        "receipts": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    receipts = load_receipts(DATA_SETS)
    expected = sum(1 for d in DATA_SETS for _ in (d / "truth.jsonl").read_text().splitlines())
    if len(receipts) < expected:
        print(f"warning: {expected - len(receipts)} receipts not OCR-cached yet (bench.ocr_cache)")
    ranker = train(receipts, args.folds, args.seed, args.l2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(ranker.to_json(), indent=1) + "\n")
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(sample(receipts, ranker, SAMPLE), indent=1) + "\n")
    print(f"written {args.out} and {FIXTURE}")


if __name__ == "__main__":
    main()
