"""How far ranking can go: per ranked field, on how many receipts some candidate equals the truth
under `bench.accuracy`'s comparison (no choice of rows does better), and why the others cannot:
the closest candidate differs from the truth in punctuation only, in a few misread characters,
or in more (text OCR lost, rows outside the candidates).

    python -m bench.ranker_ceiling [-v]
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections import Counter
from collections.abc import Sequence

from bench.accuracy import squash
from bench.ranker_training import Receipt, groups_for
from services.extractor.receipt_ranker import Ranker, shipped_ranker

_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
FEW = 3


def why_not(closest: str, want: str) -> str:
    """Why the closest candidate (squashed) is not the truth (squashed)."""
    if _NOT_ALNUM.sub("", closest) == _NOT_ALNUM.sub("", want):
        return "punctuation only"
    matcher = difflib.SequenceMatcher(None, closest, want)
    changed = sum(
        max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )
    return f"1-{FEW} characters" if changed <= FEW else "more"


def ceiling(
    receipts: Sequence[Receipt], ranker: Ranker, field: str, verbose: bool = False
) -> tuple[int, Counter[str]]:
    """(receipts with a candidate equal to the truth, the others by why_not)."""
    vendor = ranker.scorers["vendor.name"]
    reachable = 0
    reasons: Counter[str] = Counter()
    for receipt, (candidates, right) in zip(
        receipts, groups_for(field, receipts, vendor), strict=True
    ):
        if any(right):
            reachable += 1
            continue
        want = squash(receipt.want[field])
        values = [squash(c.value) for c in candidates]
        closest = max(
            values, key=lambda v: difflib.SequenceMatcher(None, v, want).ratio(), default=""
        )
        reason = why_not(closest, want)
        reasons[reason] += 1
        if verbose:
            print(f"  {receipt.name}: {reason}\n    closest {closest}\n    truth   {want}")
    return reachable, reasons


def main() -> None:
    from bench.ocr_cache import DATA_SETS
    from bench.ranker_training import load_receipts

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every unreachable")
    args = parser.parse_args()
    ranker = shipped_ranker()
    if ranker is None:
        raise SystemExit("no shipped model: run python -m bench.train_receipt_ranker")
    receipts = load_receipts(DATA_SETS)
    print("| field | some candidate equals the truth | closest differs in: |")
    print("|---|---|---|")
    for field in ("vendor.name", "vendor.address", "total"):
        reachable, reasons = ceiling(receipts, ranker, field, args.verbose)
        why = ", ".join(f"{reason} {n}" for reason, n in reasons.most_common())
        print(
            f"| {field} | {reachable}/{len(receipts)} ({reachable / len(receipts):.1%}) | {why} |"
        )


if __name__ == "__main__":
    main()
