"""How many receipts need review: each receipt read by a model that was not fitted on it, its
confidence from a calibration that was not taken from it either (nested: the calibration of a
fold comes from the out-of-fold reads of the other folds), then the validator's rules as the
pipeline runs them (threshold 0.8). A `valid` receipt should be right in every field; the
share of `valid` receipts that are is what says `needs_review` keeps its meaning.

    python -m bench.review_load [--folds 5] [--seed 13]
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median

from bench.accuracy import CONFIDENT
from bench.ranker_eval import SCORED, Outcomes, calibration, fold_models, out_of_fold, read
from bench.ranker_training import L2, Receipt
from services.extractor.receipt_parser import find_tax_id, parse_receipt
from services.extractor.receipt_ranker import Ranker
from services.validator.rules import validate

Calibration = Mapping[str, Sequence[tuple[float, float]]]


def nested_calibrations(
    outcomes: Sequence[Outcomes], held_out: Sequence[Sequence[int]]
) -> list[Calibration]:
    """Per fold, the calibration taken from the out-of-fold reads of the other folds."""
    out: list[Calibration] = []
    for held in held_out:
        inside = set(held)
        others = [o for i, o in enumerate(outcomes) if i not in inside]
        out.append({name: calibration(others, name) for name in SCORED})
    return out


@dataclass(frozen=True)
class Reviewed:
    name: str
    status: str
    issues: tuple[str, ...]  # "code:field"
    right: Mapping[str, bool]
    confident: Mapping[str, bool]

    @property
    def all_right(self) -> bool:
        return all(self.right.values())


def review(
    receipts: Sequence[Receipt], k: int, seed: int, l2: float, today: dt.date
) -> list[Reviewed]:
    models = fold_models(receipts, k, seed, l2)
    outcomes = out_of_fold(receipts, models)
    calibrations = nested_calibrations(outcomes, [held for held, _ in models])
    out: list[Reviewed] = []
    for (held, ranker), table in zip(models, calibrations, strict=True):
        reporting = Ranker(ranker.scorers, table)
        for i in held:
            parsed = parse_receipt(receipts[i].rows, reporting)
            report = validate(parsed.invoice, parsed.confidence, CONFIDENT, today=today)
            outcome: Outcomes = read(receipts[i], ranker)
            out.append(
                Reviewed(
                    receipts[i].name,
                    report.status,
                    tuple(f"{issue.code}:{issue.field}" for issue in report.issues),
                    {name: outcome[name].right for name in SCORED},
                    {name: parsed.confidence.get(name, 0.0) >= CONFIDENT for name in SCORED},
                )
            )
    return out


def summary(reviewed: Sequence[Reviewed]) -> str:
    count = len(reviewed)
    statuses = Counter(r.status for r in reviewed)
    valid = [r for r in reviewed if r.status == "valid"]
    right = [r for r in reviewed if r.all_right]
    lines = [
        f"{count} receipts, each read by a model and a calibration not fitted on it",
        "status: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())),
        f"valid: {len(valid)}/{count} ({len(valid) / count:.1%}); "
        f"of those right in every scored field ({', '.join(SCORED)}): "
        f"{sum(r.all_right for r in valid)}/{len(valid)}",
        f"right in every scored field: {len(right)}/{count}; of those valid: "
        f"{sum(r.status == 'valid' for r in right)}",
        "issues per receipt: median "
        f"{median(len(r.issues) for r in reviewed):g}, "
        f"range {min(len(r.issues) for r in reviewed)}–{max(len(r.issues) for r in reviewed)}",
        "| issue | receipts |",
        "|---|---|",
    ]
    issues = Counter(issue for r in reviewed for issue in set(r.issues))
    lines += [f"| {issue} | {n} |" for issue, n in issues.most_common()]
    lines += ["", "| field | confident (>= 0.8) | of those right |", "|---|---|---|"]
    for name in SCORED:
        sure = [r for r in reviewed if r.confident[name]]
        lines.append(f"| {name} | {len(sure)} | {sum(r.right[name] for r in sure)} |")
    measured = [n for n in SCORED if n != "vendor.address"]
    sure = [r for r in reviewed if all(r.confident[n] for n in measured)]
    lines.append(
        f"| all but the address confident | {len(sure)} receipts | "
        f"{sum(all(r.right[n] for n in measured) for r in sure)} right in all five |"
    )
    sure_all = sum(r.confident[n] for r in reviewed for n in SCORED)
    sure_right = sum(r.confident[n] and r.right[n] for r in reviewed for n in SCORED)
    lines.append(f"| all six | {sure_all} | {sure_right} ({sure_right / max(sure_all, 1):.1%}) |")
    return "\n".join(lines)


def tax_id_agreement(receipts: Sequence[Receipt]) -> tuple[int, int]:
    """The data sets have no truth for the vendor's tax number, but many vendors come back on
    several receipts: (reads equal to their vendor's most common read, reads of vendors with a
    most common read seen at least twice) is a stand-in for its precision."""
    reads: dict[str, list[str]] = {}
    for receipt in receipts:
        found = find_tax_id(receipt.rows)
        if found is not None:
            reads.setdefault(str(receipt.truth["company"]), []).append(str(found.value))
    agree = count = 0
    for values in reads.values():
        _, times = Counter(values).most_common(1)[0]
        if times >= 2:
            agree += times
            count += len(values)
    return agree, count


def main() -> None:
    from bench.ocr_cache import DATA_SETS
    from bench.ranker_training import load_receipts

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, default=dt.datetime.now(dt.UTC).date()
    )
    args = parser.parse_args()
    receipts = load_receipts(DATA_SETS)
    print(summary(review(receipts, args.folds, args.seed, args.l2, args.today)))
    agree, count = tax_id_agreement(receipts)
    print(f"vendor.tax_id (no truth): {agree}/{count} reads equal their vendor's most common read")


if __name__ == "__main__":
    main()
