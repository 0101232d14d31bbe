"""Accuracy and speed of the `local` provider on receipts-dev (not a test; a measurement).

    python -m tests.extractor.evaluate_receipts [--data DIR] [--concurrency N] [-v]

Compares total, date and vendor name with `truth.jsonl`, normalised as the data set's README
says: totals as plain decimals, dates as ISO (day-first), names case- and whitespace-insensitive
(reported both with whitespace collapsed and with all whitespace removed).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from contracts import Extraction
from services.extractor.documents import DocumentLimits, load_document
from services.extractor.local_provider import LocalProvider
from services.extractor.ocr import OcrEngine
from services.extractor.provider import no_report

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "receipts-dev"
_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d-%m-%y", "%d %b %Y", "%Y-%m-%d", "%d%m%Y")


def truth_date(text: str) -> str | None:
    text = text.strip("() ")
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def truth_total(text: str) -> str | None:
    try:
        return format(Decimal(re.sub(r"[^\d.]", "", text)).quantize(Decimal("0.01")), "f")
    except InvalidOperation:
        return None


def collapse(text: str | None) -> str:
    return " ".join((text or "").upper().split())


def squash(text: str | None) -> str:
    return "".join((text or "").upper().split())


@dataclass
class Score:
    total: int = 0
    date: int = 0
    vendor: int = 0
    vendor_squashed: int = 0
    count: int = 0

    def add(self, truth: dict[str, Any], extraction: Extraction, verbose: bool) -> None:
        invoice = extraction.invoice
        got = {
            "total": None if invoice.total is None else format(invoice.total, "f"),
            "date": invoice.invoice_date.isoformat() if invoice.invoice_date else None,
            "vendor": collapse(invoice.vendor.name),
        }
        want = {
            "total": truth_total(truth["total"]),
            "date": truth_date(truth["date"]),
            "vendor": collapse(truth["company"]),
        }
        self.count += 1
        self.total += got["total"] == want["total"]
        self.date += got["date"] == want["date"]
        self.vendor += got["vendor"] == want["vendor"]
        self.vendor_squashed += squash(got["vendor"]) == squash(want["vendor"])
        if verbose:
            for key in ("total", "date", "vendor"):
                if got[key] != want[key]:
                    print(f"  {truth['file']}: {key} got {got[key]!r}, want {want[key]!r}")

    def report(self) -> str:
        def pct(n: int) -> str:
            return f"{n}/{self.count} ({n / self.count:.0%})"

        return (
            f"total {pct(self.total)}, date {pct(self.date)}, vendor {pct(self.vendor)} "
            f"(ignoring all whitespace {pct(self.vendor_squashed)})"
        )


async def evaluate(data: Path, concurrency: int, verbose: bool) -> None:
    truths = [json.loads(line) for line in (data / "truth.jsonl").read_text().splitlines()]
    provider = LocalProvider(OcrEngine(threads=concurrency))
    # The first run loads the models; keep that out of the per-receipt time.
    await provider.extract(
        load_document((data / truths[0]["file"]).read_bytes(), DocumentLimits()),
        model=None,
        report=no_report,
    )
    score = Score()
    gate = asyncio.Semaphore(concurrency)

    async def one(truth: dict[str, Any]) -> tuple[dict[str, Any], Extraction]:
        async with gate:
            content = (data / truth["file"]).read_bytes()
            document = await asyncio.to_thread(load_document, content, DocumentLimits())
            return truth, await provider.extract(document, model=None, report=no_report)

    started = time.perf_counter()
    results = await asyncio.gather(*(one(truth) for truth in truths))
    elapsed = time.perf_counter() - started
    for truth, extraction in results:
        score.add(truth, extraction, verbose)
    print(f"{score.count} receipts from {data}")
    print(score.report())
    print(
        f"{elapsed:.1f} s wall, {elapsed / score.count:.2f} s per receipt "
        f"with {concurrency} OCR run(s) at once (normalise + OCR + rules)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    asyncio.run(evaluate(args.data, args.concurrency, args.verbose))


if __name__ == "__main__":
    main()
