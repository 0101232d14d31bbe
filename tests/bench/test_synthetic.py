"""The synthetic invoice set: consistent ground truth, both renderings readable."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from bench.synthetic import LOCALES, generate, invoice_lines, make_invoice, paginate, printed


@pytest.mark.parametrize(
    ("country", "expected"),
    [("DE", "1.234.567,80"), ("US", "1,234,567.80"), ("GB", "12.50")],
)
def test_amounts_are_printed_in_the_locale(country: str, expected: str) -> None:
    locale = next(loc for loc in LOCALES if loc.country == country)
    value = Decimal("12.50") if country == "GB" else Decimal("1234567.8")
    assert printed(value, locale) == expected


@pytest.mark.parametrize("seed", range(20))
def test_ground_truth_adds_up(seed: int) -> None:
    invoice, _ = make_invoice(random.Random(seed), seed)

    items = sum((item.amount or Decimal(0) for item in invoice.line_items), Decimal(0))
    assert items == invoice.subtotal
    assert invoice.subtotal is not None and invoice.total_tax is not None
    assert invoice.subtotal + invoice.total_tax == invoice.total == invoice.amount_due
    for item in invoice.line_items:
        assert item.quantity is not None and item.unit_price is not None
        assert item.quantity * item.unit_price == item.amount


def test_long_invoices_run_over_several_pages() -> None:
    rng = random.Random(1)
    invoice, locale = next(
        (inv, loc) for inv, loc in (make_invoice(rng, i) for i in range(200))
        if len(inv.line_items) == 40
    )  # fmt: skip
    assert len(paginate(invoice_lines(invoice, locale))) == 2


def test_the_set_is_deterministic_and_both_renderings_open(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", count=3, seed=5)
    again = generate(tmp_path / "b", count=3, seed=5)
    assert first == again

    truth = [json.loads(line) for line in (tmp_path / "a" / "truth.jsonl").read_text().splitlines()]
    for entry in truth:
        digital = pdfium.PdfDocument(tmp_path / "a" / entry["digital"])
        scan = pdfium.PdfDocument(tmp_path / "a" / entry["scan"])
        assert len(digital) == len(scan) == entry["pages"]
        text = "".join(page.get_textpage().get_text_range() for page in digital)
        assert entry["invoice"]["invoice_number"] in text
        assert scan[0].get_textpage().get_text_range().strip() == ""  # a scan has no text layer
