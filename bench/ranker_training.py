"""Fitting the receipt ranker (`services.extractor.receipt_ranker`) on cached OCR lines and truth.

Each field's model is a conditional logit: per receipt, a softmax over its candidates, fitted so
that the candidates matching the truth get the mass (L2-regularised, L-BFGS; deterministic).
Vendor first; address candidates start under the vendor the fitted vendor model picks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from bench.accuracy import squash, want_values
from bench.ocr_cache import CACHE, cache_path, load_pages, truths
from services.extractor.receipt_candidates import (
    Candidate,
    address_candidates,
    total_candidates,
    vendor_candidates,
)
from services.extractor.receipt_ranker import LinearScorer, Ranker
from services.extractor.receipt_rows import Row, rows_from_ocr

L2 = 3.0


@dataclass(frozen=True)
class Receipt:
    name: str
    rows: tuple[Row, ...]
    truth: dict[str, Any]

    @property
    def want(self) -> dict[str, str | None]:
        return want_values(self.truth)


def load_receipts(data_sets: Sequence[Path], cache: Path = CACHE) -> list[Receipt]:
    """Every receipt of the data sets whose OCR is cached, in file order."""
    out = []
    for data in data_sets:
        for truth in truths(data):
            if not cache_path(data, truth["file"], cache).exists():
                continue
            pages = load_pages(data, truth["file"], cache)
            rows = [
                row for number, lines in enumerate(pages, 1) for row in rows_from_ocr(lines, number)
            ]
            out.append(Receipt(f"{data.name}/{truth['file']}", tuple(rows), truth))
    return out


Group = tuple[list[Candidate], list[bool]]


def _matches(field: str, value: str, want: str | None) -> bool:
    if want is None:
        return False
    return squash(value) == squash(want) if field != "total" else value == want


def groups_for(
    field: str, receipts: Sequence[Receipt], vendor: LinearScorer | None = None
) -> list[Group]:
    """Each receipt's candidates for `field` with whether each matches the truth."""
    out = []
    for receipt in receipts:
        candidates = _candidates(field, receipt.rows, vendor)
        want = receipt.want[field]
        out.append((candidates, [_matches(field, c.value, want) for c in candidates]))
    return out


def _candidates(field: str, rows: Sequence[Row], vendor: LinearScorer | None) -> list[Candidate]:
    if field == "vendor.name":
        return vendor_candidates(rows)
    if field == "total":
        return total_candidates(rows)
    assert vendor is not None, "address candidates need the vendor model"
    pick = Ranker({"vendor.name": vendor}).pick("vendor.name", vendor_candidates(rows))
    return address_candidates(rows, pick.candidate.rows if pick else ())


def fit_scorer(groups: Sequence[Group], l2: float = L2) -> LinearScorer:
    """The conditional logit over the groups that have a right and a wrong candidate."""
    names = sorted({name for candidates, _ in groups for c in candidates for name in c.features})
    usable = [(c, y) for c, y in groups if any(y) and not all(y)]
    matrices = [
        np.array([[c.features.get(n, 0.0) for n in names] for c in cands]) for cands, _ in usable
    ]
    labels = [np.array(y, dtype=bool) for _, y in usable]
    stacked = np.vstack(matrices) if matrices else np.zeros((1, len(names)))
    mean = stacked.mean(axis=0)
    scale = stacked.std(axis=0)
    scale[scale < 1e-9] = 1.0
    scaled = [(m - mean) / scale for m in matrices]
    weights = minimize(
        _loss(scaled, labels, l2), np.zeros(len(names)), jac=True, method="L-BFGS-B"
    ).x
    return LinearScorer(
        tuple(names),
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in weights),
    )


def _loss(
    matrices: Sequence[np.ndarray], labels: Sequence[np.ndarray], l2: float
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        value = 0.5 * l2 * float(w @ w)
        grad = l2 * w
        for x, y in zip(matrices, labels, strict=True):
            scores = x @ w
            all_p = _softmax(scores)
            pos_p = _softmax(scores[y])
            value += _logsumexp(scores) - _logsumexp(scores[y])
            grad = grad + all_p @ x - pos_p @ x[y]
        return value, grad

    return loss


def _softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max())
    return np.asarray(e / e.sum())


def _logsumexp(scores: np.ndarray) -> float:
    top = float(scores.max())
    return top + float(np.log(np.exp(scores - top).sum()))


def fit_ranker(receipts: Sequence[Receipt], l2: float = L2) -> Ranker:
    vendor = fit_scorer(groups_for("vendor.name", receipts), l2)
    address = fit_scorer(groups_for("vendor.address", receipts, vendor), l2)
    total = fit_scorer(groups_for("total", receipts), l2)
    return Ranker({"vendor.name": vendor, "vendor.address": address, "total": total})


def folds(count: int, k: int, seed: int) -> list[list[int]]:
    """`k` disjoint index sets covering range(count), shuffled with `seed`."""
    order = np.random.default_rng(seed).permutation(count)
    return [sorted(int(i) for i in order[f::k]) for f in range(k)]
