"""How well the receipt ranker generalises: every receipt read by a model fitted without it
(k-fold over the cached receipts, fixed seed), next to the shipped model on receipts it was
fitted on; and the calibration that turns raw scores into measured accuracy.

Receipts in these data sets are all Malaysian retail receipts: their currency is MYR and their
document type `receipt`, so those two are scored as well as the data sets' own four fields.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.accuracy import CONFIDENT, FIELDS, same
from bench.ranker_training import L2, Receipt, fit_ranker, folds
from services.extractor.receipt_parser import parse_receipt
from services.extractor.receipt_ranker import Ranker

SCORED = (*FIELDS, "currency", "document_type")
# Raw-score buckets' lower edges; a bucket with fewer than MIN_BUCKET receipts joins the one below.
EDGES = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)
MIN_BUCKET = 15
# Confidence is the lower end of a one-sided ~84 % (z = 1) interval of a bucket's precision:
# a bucket of few receipts is not reported as sure as its raw precision.
Z = 1.0
CONFIDENT_PRECISION = 0.98
# The line is drawn on the same reads it is judged on: half a point of margin against that.
MARGIN = 0.005
UNSURE = 0.79


@dataclass(frozen=True)
class Outcome:
    right: bool
    raw: float
    confidence: float


Outcomes = dict[str, Outcome]


def read(receipt: Receipt, ranker: Ranker) -> Outcomes:
    """One receipt read with `ranker`: per field, right or not, raw and reported confidence."""
    raw_ranker = Ranker(ranker.scorers)
    raw = parse_receipt(receipt.rows, raw_ranker)
    reported = parse_receipt(receipt.rows, ranker)
    want = {**receipt.want, "currency": "MYR", "document_type": "receipt"}
    invoice = raw.invoice
    got = {
        "vendor.name": invoice.vendor.name,
        "vendor.address": invoice.vendor.address,
        "invoice_date": invoice.invoice_date.isoformat() if invoice.invoice_date else None,
        "total": None if invoice.total is None else format(invoice.total, "f"),
        "currency": invoice.currency,
        "document_type": invoice.document_type,
    }
    return {
        name: Outcome(
            same(name, got[name], want[name]),
            raw.raw.get(name, 0.0),
            reported.confidence.get(name, 0.0),
        )
        for name in SCORED
    }


def fold_models(
    receipts: Sequence[Receipt], k: int = 5, seed: int = 13, l2: float = L2
) -> list[tuple[list[int], Ranker]]:
    """Per fold: the receipts held out and the model fitted on the other k − 1 folds."""
    out = []
    for held_out in folds(len(receipts), k, seed):
        held = set(held_out)
        out.append((held_out, fit_ranker([r for i, r in enumerate(receipts) if i not in held], l2)))
    return out


def cross_validate(
    receipts: Sequence[Receipt], k: int = 5, seed: int = 13, l2: float = L2
) -> list[Outcomes]:
    """Each receipt read by the model fitted on the other k − 1 folds (no calibration)."""
    return out_of_fold(receipts, fold_models(receipts, k, seed, l2))


def out_of_fold(
    receipts: Sequence[Receipt], models: Sequence[tuple[list[int], Ranker]]
) -> list[Outcomes]:
    out: list[Outcomes | None] = [None] * len(receipts)
    for held_out, ranker in models:
        for i in held_out:
            out[i] = read(receipts[i], ranker)
    return [outcome for outcome in out if outcome is not None]


def buckets(outcomes: Sequence[Outcomes], name: str) -> list[tuple[float, int, int]]:
    """(lowest raw score, right, count) per raw-score bucket of a field."""
    pairs = [(o[name].raw, o[name].right) for o in outcomes]
    out: list[tuple[float, int, int]] = []
    for low, high in zip(EDGES, (*EDGES[1:], math.inf), strict=True):
        members = [right for raw, right in pairs if low <= raw < high]
        if out and len(members) < MIN_BUCKET:
            first, right, count = out[-1]
            out[-1] = (first, right + sum(members), count + len(members))
        else:
            out.append((low, sum(members), len(members)))
    return out


def calibration(outcomes: Sequence[Outcomes], name: str) -> list[tuple[float, float]]:
    """(lowest raw score, confidence) per bucket: the bucket's measured precision, pulled down
    for small buckets and made non-decreasing in the raw score. Only the top buckets that are
    right at least CONFIDENT_PRECISION + MARGIN of the time together may reach CONFIDENT; the
    others are held just under it, so that a confident field keeps meaning one that needs no
    review."""
    rows = buckets(outcomes, name)
    sure_from = len(rows)
    for start in range(len(rows) - 1, -1, -1):
        right = sum(r for _, r, _ in rows[start:])
        count = sum(c for _, _, c in rows[start:])
        if count and right / count >= CONFIDENT_PRECISION + MARGIN:
            sure_from = start
    table: list[tuple[float, float]] = []
    floor = 0.0
    for index, (low, right, count) in enumerate(rows):
        floor = max(floor, _lower_bound(right, count))
        confidence = floor if index >= sure_from else min(floor, UNSURE)
        table.append((low, round(confidence, 3)))
    return table


def _lower_bound(right: int, count: int) -> float:
    """Wilson score interval's lower end."""
    if count == 0:
        return 0.0
    p = right / count
    centre = p + Z * Z / (2 * count)
    spread = Z * math.sqrt(p * (1 - p) / count + Z * Z / (4 * count * count))
    return max(0.0, (centre - spread) / (1 + Z * Z / count))


def calibrated(ranker: Ranker, outcomes: Sequence[Outcomes]) -> Ranker:
    return Ranker(
        ranker.scorers,
        {name: calibration(outcomes, name) for name in SCORED},
        ranker.meta,
    )


def apply(ranker: Ranker, outcomes: Sequence[Outcomes]) -> list[Outcomes]:
    """The outcomes with their reported confidence from `ranker`'s calibration."""
    return [
        {
            name: Outcome(o.right, o.raw, ranker.confidence(name, o.raw))
            for name, o in outcome.items()
        }
        for outcome in outcomes
    ]


@dataclass(frozen=True)
class FieldFigures:
    count: int
    fitted: int
    not_fitted: int
    confident: int
    confident_right: int

    @property
    def gap(self) -> float:
        return (self.fitted - self.not_fitted) / self.count


def figures(fitted: Sequence[Outcomes], not_fitted: Sequence[Outcomes]) -> dict[str, FieldFigures]:
    """Per field: right on receipts fitted on, right on receipts not fitted on, and of the
    not-fitted ones reported with confidence >= CONFIDENT how many were right."""
    out = {}
    for name in SCORED:
        confident = [o[name] for o in not_fitted if o[name].confidence >= CONFIDENT]
        out[name] = FieldFigures(
            len(not_fitted),
            sum(o[name].right for o in fitted),
            sum(o[name].right for o in not_fitted),
            len(confident),
            sum(o.right for o in confident),
        )
    return out


def table(rows: dict[str, FieldFigures]) -> str:
    lines = [
        "| field | fitted on (shipped model) | not fitted on (5-fold) | gap | "
        f"confidence >= {CONFIDENT}: right / reported (not fitted on) |",
        "|---|---|---|---|---|",
    ]
    for name, f in rows.items():
        sure = f"{f.confident_right}/{f.confident}" if f.confident else "–"
        lines.append(
            f"| {name} | {f.fitted}/{f.count} ({f.fitted / f.count:.1%}) | "
            f"{f.not_fitted}/{f.count} ({f.not_fitted / f.count:.1%}) | "
            f"{100 * f.gap:+.1f} pt | {sure} |"
        )
    return "\n".join(lines)


def calibration_table(ranker: Ranker) -> str:
    """Per field and raw-score bucket: right / read out of fold, and the confidence reported."""
    measured = ranker.meta.get("calibration_buckets", {})
    lines = [
        "| field | raw score ≥ … : right / read (observed, not fitted on) → confidence reported |",
        "|---|---|",
    ]
    for name, rows in ranker.calibration.items():
        counts = {float(low): (right, count) for low, right, count in measured.get(name, [])}
        cells = []
        for low, confidence in rows:
            right, count = counts.get(low, (0, 0))
            observed = f"{right / count:.1%}" if count else "–"
            cells.append(f"{low:g}: {right}/{count} ({observed}) → {confidence:.2f}")
        lines.append(f"| {name} | {'; '.join(cells)} |")
    return "\n".join(lines)


def by_data_set(receipts: Sequence[Receipt], outcomes: Sequence[Outcomes]) -> str:
    """Right out of fold per field, for each data set apart."""
    sets = sorted({receipt.name.split("/")[0] for receipt in receipts})
    lines = ["| not fitted on | " + " | ".join(SCORED) + " |", "|---" * (len(SCORED) + 1) + "|"]
    for data_set in sets:
        mine = [o for r, o in zip(receipts, outcomes, strict=True) if r.name.startswith(data_set)]
        cells = [f"{sum(o[n].right for o in mine)}/{len(mine)}" for n in SCORED]
        lines.append(f"| {data_set} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(k: int = 5, seed: int = 13, cache: Path | None = None) -> dict[str, FieldFigures]:
    """`python -m bench.accuracy --cross-validate`: the shipped model on the receipts it was
    fitted on, and k-fold reads of the same receipts by models that did not see them; from the
    OCR cache of the engine's settings unless `cache` names another."""
    from bench.ocr_cache import CACHE, DATA_SETS
    from bench.ranker_training import load_receipts
    from services.extractor.receipt_ranker import shipped_ranker

    ranker = shipped_ranker()
    if ranker is None:
        raise SystemExit("no shipped model: run python -m bench.train_receipt_ranker")
    receipts = load_receipts(DATA_SETS, cache or CACHE)
    l2 = float(ranker.meta.get("l2", L2))
    not_fitted = apply(ranker, cross_validate(receipts, k, seed, l2))
    fitted = [read(receipt, ranker) for receipt in receipts]
    result = figures(fitted, not_fitted)
    names = ", ".join(data.name for data in DATA_SETS)
    print(f"receipt ranker on {len(receipts)} cached receipts ({names})")
    print(table(result))
    print()
    print(by_data_set(receipts, not_fitted))
    print()
    print(calibration_table(ranker))
    return result
