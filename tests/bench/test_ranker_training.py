"""Fitting the receipt ranker: the conditional logit learns which candidate is right."""

from __future__ import annotations

from bench.ranker_training import Receipt, fit_ranker, fit_scorer, folds, groups_for
from services.extractor.receipt_candidates import Candidate, total_candidates
from services.extractor.receipt_rows import Row


def receipt(name: str, total: str, *texts: str) -> Receipt:
    rows = tuple(
        Row(1, (text,), (0.0, 30.0 * i, 300.0, 30.0 * i + 20), 0.98) for i, text in enumerate(texts)
    )
    truth = {"file": name, "company": texts[0], "date": "01/02/2018", "address": texts[1],
             "total": total}  # fmt: skip
    return Receipt(name, rows, truth)


RECEIPTS = [
    receipt(f"r{i}", f"{i + 5}.35", f"SHOP {i} SDN BHD", f"NO {i}, JALAN BESAR", "47170 PUCHONG",
            "TEL: 03-1234 5678", f"ITEM A | {i + 1}.00", f"TOTAL | {i + 5}.36",
            "ROUNDING | -0.01", f"TOTAL ROUNDED | {i + 5}.35", f"CASH | {i + 10}.00",
            "CHANGE | 4.65")
    for i in range(12)
]  # fmt: skip


def test_the_fitted_model_prefers_the_right_candidates() -> None:
    scorer = fit_scorer(groups_for("total", RECEIPTS))
    fresh = receipt(
        "new", "42.35", "NEW SHOP SDN BHD", "NO 9, JALAN KECIL", "TOTAL | 42.34",
        "ROUNDING | 0.01", "TOTAL ROUNDED | 42.35", "CASH | 50.00", "CHANGE | 7.65",
    )  # fmt: skip

    best = max(total_candidates(fresh.rows), key=lambda c: scorer.score(c.features))

    assert best.value == "42.35"


def test_groups_without_a_right_candidate_do_not_move_the_model() -> None:
    wrong_only = [([Candidate("1.00", (), {"x": 1.0}), Candidate("2.00", (), {"x": 0.0})],
                   [False, False])]  # fmt: skip

    assert fit_scorer(wrong_only).weights == (0.0,)


def test_fit_ranker_has_a_model_per_ranked_field() -> None:
    ranker = fit_ranker(RECEIPTS)

    assert set(ranker.scorers) == {"vendor.name", "vendor.address", "total"}
    assert fit_ranker(RECEIPTS) == ranker  # deterministic


def test_folds_are_disjoint_cover_everything_and_follow_the_seed() -> None:
    split = folds(23, 5, seed=13)

    assert sorted(i for fold in split for i in fold) == list(range(23))
    assert len(split) == 5 and all(4 <= len(fold) <= 5 for fold in split)
    assert folds(23, 5, seed=13) == split and folds(23, 5, seed=14) != split
