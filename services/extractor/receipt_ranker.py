"""A learned ranker over receipt candidates (`receipt_candidates`): one linear model per field,
its softmax over a receipt's candidates read as each candidate's share, and a calibration table
that turns a share (or a rule's score) into the accuracy measured for it on receipts the model
was not fitted on. The model is plain JSON (weights, feature scaling, calibration): loading it
runs no code. `bench/train_receipt_ranker.py` writes it; docs/accuracy.md has its figures.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.extractor.receipt_candidates import Candidate

MODEL_PATH = Path(__file__).resolve().parent / "models" / "receipt_ranker.json"
RANKED_FIELDS = ("vendor.name", "vendor.address", "total")


@dataclass(frozen=True)
class LinearScorer:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]

    def score(self, features: Mapping[str, float]) -> float:
        return sum(
            w * (features.get(name, 0.0) - m) / s
            for name, m, s, w in zip(
                self.features, self.mean, self.scale, self.weights, strict=True
            )
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinearScorer:
        return cls(
            tuple(str(name) for name in data["features"]),
            tuple(float(v) for v in data["mean"]),
            tuple(float(v) for v in data["scale"]),
            tuple(float(v) for v in data["weights"]),
        )


@dataclass(frozen=True)
class Pick:
    """The chosen candidate and the share of the softmax that went to its value."""

    candidate: Candidate
    share: float


@dataclass(frozen=True)
class Ranker:
    scorers: Mapping[str, LinearScorer]
    # Per field: (lowest raw score, confidence) in ascending order of the raw score.
    calibration: Mapping[str, Sequence[tuple[float, float]]] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def pick(self, name: str, candidates: Sequence[Candidate]) -> Pick | None:
        """The best-scored candidate, with the share of the softmax that went to its value
        (candidates with the same value, such as a total printed twice, pool their shares).
        Picking by pooled share instead was measured too: a subtotal printed four times then
        outweighs the total (out of fold 247/260 totals right against 248/260)."""
        scorer = self.scorers.get(name)
        if scorer is None or not candidates:
            return None
        scores = [scorer.score(candidate.features) for candidate in candidates]
        top = max(scores)
        weights = [math.exp(score - top) for score in scores]
        total = sum(weights)
        shares: dict[str, float] = {}
        for candidate, weight in zip(candidates, weights, strict=True):
            key = _key(candidate.value)
            shares[key] = shares.get(key, 0.0) + weight / total
        best = max(
            range(len(candidates)),
            key=lambda i: (scores[i], shares[_key(candidates[i].value)]),
        )
        return Pick(candidates[best], shares[_key(candidates[best].value)])

    def confidence(self, name: str, raw: float) -> float:
        """The measured accuracy of a field reported with this raw score; the raw score when
        the field has no calibration."""
        table = self.calibration.get(name)
        if not table:
            return raw
        confidence = table[0][1]
        for lowest, value in table:
            if raw >= lowest:
                confidence = value
        return confidence

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": dict(self.meta),
            "scorers": {name: scorer.to_json() for name, scorer in self.scorers.items()},
            "calibration": {
                name: [list(row) for row in rows] for name, rows in self.calibration.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ranker:
        return cls(
            {name: LinearScorer.from_json(s) for name, s in data["scorers"].items()},
            {
                name: [(float(low), float(conf)) for low, conf in rows]
                for name, rows in data.get("calibration", {}).items()
            },
            dict(data.get("meta", {})),
        )


def _key(value: str) -> str:
    return "".join(value.upper().split())


def load_ranker(path: Path = MODEL_PATH) -> Ranker:
    return Ranker.from_json(json.loads(path.read_text()))


@functools.cache
def shipped_ranker() -> Ranker | None:
    """The model committed with the code, loaded once; None if the file is missing."""
    return load_ranker() if MODEL_PATH.exists() else None
