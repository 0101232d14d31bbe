"""The rule-based receipt reader, on rows of text as OCR or a PDF text layer gives them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services.extractor.receipt_parser import (
    find_address,
    find_currency,
    find_date,
    find_number,
    find_total,
    find_vendor,
    month_first,
    parse_receipt,
)
from services.extractor.receipt_ranker import LinearScorer, Ranker
from services.extractor.receipt_rows import Row


def rows(*texts: str) -> list[Row]:
    """OCR rows 30 px apart on a page 300 px wide and 1000 px high."""
    return [
        Row(
            1,
            pieces := tuple(text.split(" | ")),
            (0.0, 30.0 * i, 300.0, 30.0 * i + 20),
            0.98,
            tuple((0.0, 0.03 * i, 1.0, 0.03 * i + 0.02) for _ in pieces),
        )
        for i, text in enumerate(texts)
    ]


def value_of(found: object) -> object:
    return getattr(found, "value", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Date: 15/01/2019", "2019-01-15"),
        ("05 MAR 2018 18:24", "2018-03-05"),
        ("2019-01-15", "2019-01-15"),
        ("Jan 5, 2019", "2019-01-05"),
        ("5/3/2018", "2018-03-05"),  # day-first
        ("BILL DT: 12/03/18 10:25 PM", "2018-03-12"),
        ("10-03-201823:03:06", "2018-03-10"),  # OCR glued the time on
        ("06/04/1711:43am", "2017-04-06"),  # a two-digit year glued to the time
        ("[Sales]2018-01-0522:55:25", "2018-01-05"),
        ("(06/12/2016)", "2016-12-06"),
        ("00440010036 25032018 13:11:54", "2018-03-25"),
        ("03/25/2018", "2018-03-25"),  # month-first when the day cannot be a month
    ],
)
def test_dates(text: str, expected: str) -> None:
    assert value_of(find_date(rows(text))) == expected


def test_labelled_date_wins_over_item_codes_and_impossible_dates() -> None:
    found = find_date(rows("IC12 12/72", "Item 31/13/2018", "Date: 17-04-16 14:01"))

    assert value_of(found) == "2016-04-17"


def test_dates_far_in_the_future_are_misreads() -> None:
    future = dt.date.today().year + 5
    assert find_date(rows(f"Code 01/01/{future}")) is None


def test_total_label_and_amount_on_one_row() -> None:
    found = find_total(
        rows(
            "SUB-TOTAL | 144.68",
            "TOTAL TAX | 8.68",
            "Total Qty: 18 | 144.68",
            "ROUNDING | -0.01",
            "TOTAL | 153.35",
            "CASH | 200.00",
            "CHANGE | 46.65",
        )
    )

    assert found is not None and found.value == "153.35"
    assert found.row is not None and found.row.text == "TOTAL 153.35"
    assert found.confidence >= 0.8  # cash − change agrees


def test_stronger_total_label_wins() -> None:
    found = find_total(rows("Total | 295.00", "NET TOTAL | 343.95", "TOTAL : | 144.68 | 8.68"))

    assert value_of(found) == "343.95"


def test_total_amount_read_onto_the_next_row_is_found_less_surely() -> None:
    found = find_total(rows("TOTAL", "CASH | 153.35", "CHANGE | 0.00"))

    assert found is not None and found.value == "153.35"
    same_row = find_total(rows("TOTAL | 153.35", "CASH | 153.35", "CHANGE | 0.00"))
    assert same_row is not None and found.confidence < same_row.confidence


def test_disagreeing_cash_lowers_confidence() -> None:
    agrees = find_total(rows("TOTAL | 10.00", "CASH | 20.00", "CHANGE | 10.00"))
    disagrees = find_total(rows("TOTAL | 10.00", "CASH | 20.00", "CHANGE | 5.00"))

    assert agrees is not None and disagrees is not None
    assert disagrees.confidence < agrees.confidence


def test_no_total_label_falls_back_to_cash_minus_change_with_low_confidence() -> None:
    found = find_total(rows("Widget | 9.90", "CASH | 20.00", "CHANGE | 10.10"))

    assert found is not None and found.value == "9.90" and found.confidence < 0.5


def test_no_amounts_no_total() -> None:
    assert find_total(rows("THANK YOU", "PLEASE COME AGAIN")) is None


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (
            ("TED HENG STATIONERY & BOOKS", "(001451637-M)", "NO. 53, JALAN BESAR"),
            "TED HENG STATIONERY & BOOKS",
        ),
        (
            ("A03096", "Timeless Kitchenette Sdn Bhd", "Company no : 1174703-K"),
            "Timeless Kitchenette Sdn Bhd",
        ),
        (
            ("PASARAYA BORONG PINTAR", "SDN BHD", "BR No.:(124525-H)"),
            "PASARAYA BORONG PINTAR SDN BHD",
        ),
        (("POPULAR BOOK", "CO. (M) SDN BHD", "(Co. No. 113825-W)"), "POPULAR BOOK CO. (M) SDN BHD"),
        (("99 SPEED MART S/B (519537-X)", "LOT P.T. 2811"), "99 SPEED MART S/B"),
    ],
)
def test_vendor(texts: tuple[str, ...], expected: str) -> None:
    found = find_vendor(rows(*texts))

    assert found is not None and found.value == expected and found.confidence >= 0.7


def test_vendor_without_a_company_suffix_is_a_guess() -> None:
    found = find_vendor(rows("TAX INVOICE", "Corner Kiosk", "Tel: 03-1234"))

    assert found is not None and found.value == "Corner Kiosk" and found.confidence < 0.5


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (("TOTAL (RM) | 10.00",), "MYR"),
        (("Total Amount: $8.20", "12, JALAN TAMPOI"), "MYR"),
        (("Summe 10,00 €",), "EUR"),
        (("Total £4.50",), "GBP"),
        (("Amount due USD 12.00",), "USD"),
        (("TOTAL 10.00",), None),
    ],
)
def test_currency(texts: tuple[str, ...], expected: str | None) -> None:
    assert value_of(find_currency(rows(*texts))) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Receipt No.: CS1802/27714", "CS1802/27714"),
        ("Invoice #:OR18030502160349", "OR18030502160349"),
        ("INV No. | 504233", "504233"),
        ("Thank you", None),
    ],
)
def test_receipt_number(text: str, expected: str | None) -> None:
    assert value_of(find_number(rows(text))) == expected


def test_whole_receipt_with_confidence_and_evidence() -> None:
    parsed = parse_receipt(
        rows(
            "ACME TRADING SDN BHD",
            "GST No: 000123456789",
            "Receipt No: CS1001",
            "Date: 15/01/2019",
            "Widget 2 x 5.00 | 10.00",
            "TOTAL RM | 10.00",
            "CASH | 20.00",
            "CHANGE | 10.00",
        )
    )

    invoice = parsed.invoice
    assert invoice.vendor.name == "ACME TRADING SDN BHD"
    assert invoice.vendor.tax_id == "000123456789"
    assert invoice.invoice_number == "CS1001"
    assert invoice.invoice_date == dt.date(2019, 1, 15)
    assert invoice.total == Decimal("10.00") and invoice.amount_due == Decimal("10.00")
    assert invoice.currency == "MYR" and invoice.document_type == "receipt"
    [widget] = invoice.line_items  # 2 x 5.00 = 10.00, and that is the whole total
    assert (widget.description, widget.quantity, widget.unit_price, widget.amount) == (
        "Widget",
        Decimal("2"),
        Decimal("5.00"),
        Decimal("10.00"),
    )
    assert all(0.0 <= value <= 1.0 for value in parsed.confidence.values())
    assert parsed.confidence["total"] > parsed.confidence["vendor.name"] * 0.9
    # Every value its row, as printed and where, in fractions of the page.
    assert parsed.evidence["total"].text == "TOTAL RM 10.00"
    assert parsed.evidence["total"].bbox == pytest.approx((0.0, 0.15, 1.0, 0.17))
    assert parsed.evidence["amount_due"] == parsed.evidence["total"]
    for name in ("description", "quantity", "unit_price", "amount"):
        evidence = parsed.evidence[f"line_items[0].{name}"]
        assert evidence.text == "Widget 2 x 5.00 10.00"
        assert evidence.bbox == pytest.approx((0.0, 0.12, 1.0, 0.14))
    assert "line_items" not in parsed.evidence  # a list, not a value
    assert parsed.evidence["invoice_date"].text == "Date: 15/01/2019"
    assert parsed.evidence["invoice_number"].text == "Receipt No: CS1001"
    assert parsed.evidence["vendor.tax_id"].text == "GST No: 000123456789"
    assert parsed.evidence["vendor.name"].bbox == pytest.approx((0.0, 0.0, 1.0, 0.02))


def test_nothing_readable_gives_an_empty_invoice() -> None:
    parsed = parse_receipt([])

    assert parsed.invoice.total is None and parsed.invoice.vendor.name is None
    assert parsed.confidence == {}


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (
            ("GARDENIA BAKERIES (KL) SDN BHD", "(139386-X)", "Lot 3, Jalan Pelabur 23/1,",
             "40300 Shah Alam, Selangor.", "Tel: 03-55423228", "TAX INVOICE"),
            "Lot 3, Jalan Pelabur 23/1, 40300 Shah Alam, Selangor.",
        ),
        (
            ("POPULAR BOOK CO. (M) SDN BHD", "(GST Reg No. 001492992000)",
             "No 8, Jalan 7/118B, Desa Tun Razak", "56000 Kuala Lumpur, Malaysia",
             "AEON SHAH ALAM"),
            "No 8, Jalan 7/118B, Desa Tun Razak 56000 Kuala Lumpur, Malaysia",
        ),
        (
            ("UNIHAKKA INTERNATIONAL SDN BHD", "29 Mar 2018 18:19", "12, Jalan Tampoi 7/4,",
             "Kawasan Perindustrian Tampoi,", "81200 Johor Bahru, Johor", "TAN WOON YANN"),
            "12, Jalan Tampoi 7/4, Kawasan Perindustrian Tampoi, 81200 Johor Bahru, Johor",
        ),
        (
            # Commas misread as full stops; the stops after "NO" and "P.T" are real.
            ("ACME SDN BHD", "NO. 38. Lot P.T. 9 Boulevard. Jalan Kenari 5.", "47170 Puchong."),
            "NO. 38, Lot P.T. 9 Boulevard, Jalan Kenari 5, 47170 Puchong.",
        ),
    ],
)  # fmt: skip
def test_address_is_the_block_under_the_name(texts: tuple[str, ...], expected: str) -> None:
    lines = rows(*texts)

    found = find_address(lines, find_vendor(lines))

    assert found is not None and found.value == expected
    assert 0 < found.confidence < 0.8  # a layout rule, not a reading the data set confirms


def test_no_address_rows_no_address() -> None:
    lines = rows("ACME TRADING SDN BHD", "Tel: 03-5542 3228", "TAX INVOICE", "1 x Tea 2.10")

    assert find_address(lines, find_vendor(lines)) is None


def test_the_address_reaches_the_invoice_with_its_evidence() -> None:
    parsed = parse_receipt(
        rows("ACME TRADING SDN BHD", "No 8, Jalan Besar", "56000 Kuala Lumpur", "TOTAL | 9.90")
    )

    assert parsed.invoice.vendor.address == "No 8, Jalan Besar 56000 Kuala Lumpur"
    evidence = parsed.evidence["vendor.address"]
    assert evidence.page == 1 and evidence.text == "No 8, Jalan Besar 56000 Kuala Lumpur"


def test_ambiguous_dates_follow_the_documents_own_order() -> None:
    # 03/04/2019 alone is 3 April; on a document that also prints 12/25/2018 it is March 4.
    us = rows("Invoice date 03/04/2019 10:00", "Order placed 12/25/2018")
    world = rows("Invoice date 03/04/2019 10:00", "Delivered 25/12/2018")

    assert month_first(us) and not month_first(world)
    assert value_of(find_date(us)) == "2019-03-04"
    assert value_of(find_date(world)) == "2019-04-03"
    assert value_of(find_date(rows("Date 03/04/2019"))) == "2019-04-03"  # day-first default


def test_items_subtotal_and_tax_are_kept_only_when_they_add_up() -> None:
    lines = (
        "ACME GmbH", "Copy paper A4, 500 sheets | 2 | 4,50 | 9,00",
        "Toner black | 1 | 11,00 | 11,00", "Subtotal 20,00 EUR", "VAT 19% 3,80 EUR",
        "Total 23,80 EUR",
    )  # fmt: skip
    parsed = parse_receipt(rows(*lines))

    assert parsed.invoice.subtotal == Decimal("20.00")
    assert parsed.invoice.total_tax == Decimal("3.80")
    assert [item.description for item in parsed.invoice.line_items] == [
        "Copy paper A4, 500 sheets",
        "Toner black",
    ]

    # One item row misread: the table no longer adds up, so none of it is reported.
    misread = parse_receipt(rows(*lines[:2], "Toner black | 1 | 11,00 | 17,00", *lines[3:]))
    assert misread.invoice.line_items == [] and "line_items" not in misread.confidence
    assert misread.invoice.subtotal == Decimal("20.00")


def test_a_quantity_before_a_three_digit_price_is_not_a_thousands_group() -> None:
    parsed = parse_receipt(rows("ACME GmbH", "Chair | 2 | 150.00 | 300.00", "Total 300.00"))

    [chair] = parsed.invoice.line_items
    assert (chair.quantity, chair.unit_price, chair.amount) == (
        Decimal(2), Decimal("150.00"), Decimal("300.00"),
    )  # fmt: skip


def test_a_subtotal_and_tax_that_miss_the_total_are_left_out() -> None:
    parsed = parse_receipt(rows("ACME GmbH", "Subtotal 20.00", "Tax 3.00", "Total 23.80"))

    assert parsed.invoice.subtotal is None and parsed.invoice.total_tax is None


def test_without_any_total_label_the_largest_amount_is_a_guess() -> None:
    found = find_total(rows("ACME", "Coffee | 3.50", "Cake | 12.90", "Thank you"))

    assert found is not None and found.value == "12.90" and found.confidence <= 0.2


def test_subtotal_and_tax_that_add_up_confirm_the_total() -> None:
    # A text layer (no boxes) is read by the rules; OCR rows by the ranker, whose
    # `subtotal_plus_tax` feature carries the same arithmetic (test_receipt_candidates).
    def text_rows(*texts: str) -> list[Row]:
        return [Row(1, (text,)) for text in texts]

    alone = parse_receipt(text_rows("ACME GmbH", "Total 23.80"))
    confirmed = parse_receipt(text_rows("ACME GmbH", "Subtotal 20.00", "VAT 3.80", "Total 23.80"))

    assert confirmed.confidence["total"] > alone.confidence["total"]


def test_a_quantity_of_ten_is_read_as_ten() -> None:
    parsed = parse_receipt(rows("ACME GmbH", "Chair | 10 | 15.00 | 150.00", "Total 150.00"))

    [chair] = parsed.invoice.line_items
    assert chair.quantity == Decimal(10)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        # Malaysian till receipts print "TAX INVOICE" (a simplified GST invoice), even "Bill To".
        (("SHOP SDN BHD", "TAX INVOICE", "Bill To:", "TOTAL 9.90", "CASH 10.00", "CHANGE 0.10"),
         "receipt"),
        (("SHOP SDN BHD", "TAX INVOICE", "Cashier: ANN", "TOTAL 9.90"), "receipt"),
        (("ACME GmbH", "INVOICE INV-1", "Due: 15/02/2024", "Bill to: Foo Ltd", "Total 9.90"),
         "invoice"),
        (("ACME GmbH", "INVOICE INV-1", "Total 9.90"), "invoice"),
        (("SHOP SDN BHD", "CREDIT NOTE", "TOTAL 9.90"), "credit_note"),
    ],
)  # fmt: skip
def test_document_type_follows_how_the_document_was_paid(
    texts: tuple[str, ...], expected: str
) -> None:
    assert parse_receipt(rows(*texts)).invoice.document_type == expected


def test_only_values_the_calibration_has_truth_for_are_calibrated() -> None:
    # Calibrated on Malaysian receipts: MYR and `receipt` were measured, USD and invoices not.
    ranker = Ranker({}, {"currency": [(0.0, 0.99)], "document_type": [(0.0, 0.99)]})

    myr = parse_receipt(rows("SHOP SDN BHD", "TOTAL RM 9.90", "CASH 10.00"), ranker)
    usd = parse_receipt(rows("ACME Inc", "INVOICE 7", "Total $ 9.90"), ranker)

    assert myr.confidence["currency"] == 0.99 and myr.confidence["document_type"] == 0.99
    assert usd.invoice.currency == "USD" and usd.confidence["currency"] == 0.3
    assert usd.invoice.document_type == "invoice" and usd.confidence["document_type"] == 0.5
    assert usd.raw["currency"] == 0.3  # the score before calibration is kept apart


def test_a_ranked_pick_scores_its_share_times_its_rows_ocr_score() -> None:
    total = LinearScorer(("priority",), (0.0,), (1.0,), (50.0,))
    ranker = Ranker({"total": total})
    clear = [Row(1, ("TOTAL", "9.90"), (0.0, 0.0, 300.0, 20.0), 0.99)]
    smudged = [Row(1, ("TOTAL", "9.90"), (0.0, 0.0, 300.0, 20.0), 0.6)]

    assert parse_receipt(clear, ranker).raw["total"] == pytest.approx(0.99)
    assert parse_receipt(smudged, ranker).raw["total"] == pytest.approx(0.6)
