"""The ranking ceiling: receipts some candidate reads right, and why the others cannot be."""

from __future__ import annotations

from bench.ranker_ceiling import ceiling, why_not
from bench.ranker_training import fit_ranker
from tests.bench.test_ranker_training import RECEIPTS, receipt


def test_why_a_closest_candidate_misses() -> None:
    assert why_not(
        "NO.2,JALANBESAR,43200CHERASSELANGOR", "NO.2,JALANBESAR,43200CHERAS,SELANGOR"
    ) == ("punctuation only")
    assert why_not("12,JAIANTAMPOI", "12,JALANTAMPOI") == "1-3 characters"
    assert why_not("80300JOHORBAHRU", "K3-113,JLIBRAHIMSULTAN80300JOHORBAHRU") == "more"


def test_a_total_no_row_prints_is_out_of_reach() -> None:
    misread = receipt("x", "7.77", "SHOP SDN BHD", "NO 1, JALAN BESAR", "TOTAL | 7.71")
    ranker = fit_ranker(RECEIPTS)

    reachable, reasons = ceiling([*RECEIPTS, misread], ranker, "total")

    assert reachable == len(RECEIPTS)
    assert reasons == {"1-3 characters": 1}
