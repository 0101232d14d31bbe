"""Synthetic invoices with full ground truth, rendered as digital PDFs and as scans.

    python -m bench.synthetic --out DIR [--count 40] [--seed 7]

Writes, per invoice, `<id>.pdf` (a digital PDF with a real text layer, one or several pages) and
`<id>-scan.pdf` (the same pages as images: slightly rotated, blurred, JPEG-compressed, no text
layer), plus `truth.jsonl` with one line per invoice: the file names and the invoice as
`contracts.Invoice` JSON (line items, tax, totals). Amounts are printed in the invoice's locale
(`1.234,56` in Germany, `1,234.56` in the US and the UK). Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from contracts import Invoice
from testkit.documents import text_pdf

CENT = Decimal("0.01")
LINES_PER_PAGE = 38


@dataclass(frozen=True)
class Locale:
    country: str
    currency: str
    tax_rate: Decimal
    decimal: str
    group: str
    date_format: str


LOCALES = (
    Locale("DE", "EUR", Decimal("19"), ",", ".", "%d.%m.%Y"),
    Locale("US", "USD", Decimal("8.875"), ".", ",", "%m/%d/%Y"),
    Locale("GB", "GBP", Decimal("20"), ".", ",", "%d/%m/%Y"),
)
VENDORS = (
    ("ACME GmbH", "Hauptstrasse 1, 10115 Berlin"),
    ("Globex Corporation", "500 Market Street, San Francisco, CA 94105"),
    ("Initech Ltd", "12 Baker Street, London W1U 3BW"),
    ("Umbrella Supplies GmbH", "Ringstrasse 8, 80331 Muenchen"),
    ("Stark Office Products Inc", "200 Park Avenue, New York, NY 10166"),
)
PRODUCTS = (
    "Copy paper A4, 500 sheets", "Toner cartridge black", "USB-C cable 2 m", "Desk lamp LED",
    "Stapler heavy duty", "Notebook A5 ruled", "Ballpoint pens, box of 50", "Monitor stand",
    "Ergonomic mouse", "Whiteboard markers, set of 4", "Consulting hour", "Shipping and handling",
)  # fmt: skip


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def printed(value: Decimal, locale: Locale) -> str:
    """`1234.5` as the locale prints it: `1.234,50` or `1,234.50`."""
    whole, cents = f"{abs(value):.2f}".split(".")
    groups: list[str] = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    text = locale.group.join([whole, *groups]) + locale.decimal + cents
    return f"-{text}" if value < 0 else text


def make_invoice(rng: random.Random, index: int) -> tuple[Invoice, Locale]:
    locale = rng.choice(LOCALES)
    vendor, address = rng.choice(VENDORS)
    issued = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(365))
    items = []
    for _ in range(rng.choice((1, 2, 3, 5, 8, 12, 25, 40))):
        quantity = Decimal(rng.choice((1, 1, 2, 3, 5, 10)))
        unit_price = money(Decimal(rng.randrange(99, 250_00)) / 100)
        items.append(
            {
                "description": rng.choice(PRODUCTS),
                "quantity": str(quantity),
                "unit_price": str(unit_price),
                "tax_rate": str(locale.tax_rate),
                "amount": str(money(quantity * unit_price)),
            }
        )
    subtotal = money(sum((Decimal(item["amount"]) for item in items), Decimal(0)))
    tax = money(subtotal * locale.tax_rate / 100)
    total = subtotal + tax
    invoice = Invoice.model_validate(
        {
            "document_type": "invoice",
            "invoice_number": f"INV-{2024_0000 + index}",
            "invoice_date": issued,
            "due_date": issued + dt.timedelta(days=30),
            "currency": locale.currency,
            "vendor": {"name": vendor, "address": address},
            "customer": {"name": "Example Customer " + str(index % 7 + 1)},
            "subtotal": str(subtotal),
            "total_tax": str(tax),
            "total": str(total),
            "amount_due": str(total),
            "tax_details": [
                {"rate": str(locale.tax_rate), "base": str(subtotal), "amount": str(tax)}
            ],
            "line_items": items,
        }
    )
    return invoice, locale


def invoice_lines(invoice: Invoice, locale: Locale) -> list[str]:
    """The invoice as printed text lines, top to bottom."""
    assert invoice.invoice_date is not None and invoice.due_date is not None
    lines = [
        invoice.vendor.name or "",
        invoice.vendor.address or "",
        "",
        f"INVOICE {invoice.invoice_number}",
        f"Date: {invoice.invoice_date.strftime(locale.date_format)}",
        f"Due: {invoice.due_date.strftime(locale.date_format)}",
        f"Bill to: {invoice.customer.name}",
        "",
        "Description | Qty | Unit price | Amount",
    ]
    for item in invoice.line_items:
        assert item.quantity is not None and item.unit_price is not None and item.amount
        lines.append(
            f"{item.description} | {item.quantity} | {printed(item.unit_price, locale)} | "
            f"{printed(item.amount, locale)}"
        )
    assert invoice.subtotal is not None and invoice.total_tax is not None
    assert invoice.total is not None
    lines += [
        "",
        f"Subtotal {printed(invoice.subtotal, locale)} {locale.currency}",
        f"VAT {locale.tax_rate}% {printed(invoice.total_tax, locale)} {locale.currency}",
        f"Total {printed(invoice.total, locale)} {locale.currency}",
    ]
    return lines


def paginate(lines: Sequence[str]) -> list[list[str]]:
    return [list(lines[i : i + LINES_PER_PAGE]) for i in range(0, len(lines), LINES_PER_PAGE)]


def scanned_pdf(pages: Sequence[Sequence[str]], rng: random.Random) -> bytes:
    """The pages as a scan: text drawn on A4 at ~100 dpi, rotated a little, blurred, JPEG noise."""
    font = ImageFont.load_default(size=15)
    images = []
    for lines in pages:
        page = Image.new("L", (827, 1169), 255)
        draw = ImageDraw.Draw(page)
        for number, line in enumerate(lines):
            draw.text((60, 60 + number * 26), line.replace(" | ", "    "), fill=0, font=font)
        page = page.rotate(rng.uniform(-2.0, 2.0), resample=Image.Resampling.BICUBIC, fillcolor=255)
        page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9)))
        buffer = io.BytesIO()
        page.save(buffer, "JPEG", quality=rng.randrange(35, 70))
        images.append(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=100)
    return out.getvalue()


def generate(out: Path, count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    truths: list[dict[str, object]] = []
    for index in range(count):
        invoice, locale = make_invoice(rng, index)
        pages = paginate(invoice_lines(invoice, locale))
        name = f"invoice-{index:03d}"
        (out / f"{name}.pdf").write_bytes(text_pdf(pages))
        (out / f"{name}-scan.pdf").write_bytes(scanned_pdf(pages, rng))
        truths.append(
            {
                "digital": f"{name}.pdf",
                "scan": f"{name}-scan.pdf",
                "pages": len(pages),
                "locale": locale.country,
                "invoice": invoice.model_dump(mode="json"),
            }
        )
    (out / "truth.jsonl").write_text("".join(json.dumps(t) + "\n" for t in truths))
    return truths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    truths = generate(args.out, args.count, args.seed)
    pages = sum(int(str(t["pages"])) for t in truths)
    print(f"{len(truths)} invoices ({pages} pages each way) in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
