"""Receipt candidates: what is offered to the ranker, and the arithmetic in the features."""

from __future__ import annotations

from services.extractor.receipt_candidates import (
    address_candidates,
    total_candidates,
    vendor_candidates,
)
from services.extractor.receipt_rows import Row


def rows(*texts: str) -> list[Row]:
    return [
        Row(1, tuple(text.split(" | ")), (0.0, 30.0 * i, 300.0, 30.0 * i + 20), 0.98)
        for i, text in enumerate(texts)
    ]


RECEIPT = rows(
    "SECURE PARKING",
    "CORPORATION S/B",
    "3RD FLR, AEON TAMAN MALURI SC",
    "JLN JEJAKA, 55100 KUALA LUMPUR, TEL: 03-1234 5678",
    "TAX INVOICE",
    "TOTAL | 6.36",
    "ROUNDING ADJ | -0.01",
    "TOTAL ROUNDED | 6.35",
    "CASH | 10.00",
    "CHANGE | 3.65",
)


def test_vendor_candidates_are_top_rows_alone_and_wrapped() -> None:
    values = [c.value for c in vendor_candidates(RECEIPT)]

    assert "SECURE PARKING CORPORATION S/B" in values
    assert "CORPORATION S/B" in values and "SECURE PARKING" in values
    wrapped = next(c for c in vendor_candidates(RECEIPT) if c.value.startswith("SECURE PARKING C"))
    assert wrapped.features["pair"] == 1.0 and wrapped.features["suffix_last"] == 1.0


def test_address_candidates_start_under_the_vendor_and_drop_a_contact_tail() -> None:
    vendor = tuple(RECEIPT[:2])

    values = [c.value for c in address_candidates(RECEIPT, vendor)]

    assert "3RD FLR, AEON TAMAN MALURI SC JLN JEJAKA, 55100 KUALA LUMPUR," in values
    assert not any(value.startswith("SECURE") or "CORPORATION" in value for value in values)


def test_diacritics_are_misreads_on_a_malaysian_receipt() -> None:
    lines = rows("ACME HARDWÀRE SDN BHD", "NO 1, JALAN ÁLAM", "40170 SHAH ALAM")

    assert "ACME HARDWARE SDN BHD" in [c.value for c in vendor_candidates(lines)]
    assert "NO 1, JALAN ALAM 40170 SHAH ALAM" in [
        c.value for c in address_candidates(lines, (lines[0],))
    ]


def test_amount_features_carry_the_arithmetic() -> None:
    by_value = {c.value: c.features for c in total_candidates(RECEIPT)}

    rounded, unrounded = by_value["6.35"], by_value["6.36"]
    # 6.36 + (-0.01) = 6.35: the rounded total is the adjusted one; cash − change = 6.35.
    assert rounded["adjusted"] == 1.0 and rounded["cash_minus_change"] == 1.0
    assert unrounded["adjusts_to_other"] == 1.0 and unrounded["cash_minus_change"] == 0.0
    # Which way the adjustment goes is read from the order: rounded under it, unrounded above.
    assert unrounded["adjusted"] == 0.0 and rounded["adjusts_to_other"] == 0.0
    assert rounded["paid_minus_change"] == 1.0 and unrounded["paid_minus_change"] == 0.0
    assert by_value["10.00"]["paid"] == 1.0 and by_value["3.65"]["change"] == 1.0
    assert "-0.01" not in by_value  # negative amounts are never the total


def test_no_rows_no_candidates() -> None:
    assert vendor_candidates([]) == []
    assert address_candidates([], ()) == []
    assert total_candidates(rows("THANK YOU")) == []


def test_a_registration_number_before_the_address_is_not_part_of_it() -> None:
    lines = rows("ACME SDN BHD", "Roc: 1026984-X No.29M, Jalan Dinar G", "40150 Shah Alam")

    values = [c.value for c in address_candidates(lines, (lines[0],))]

    assert "No.29M, Jalan Dinar G 40150 Shah Alam" in values
