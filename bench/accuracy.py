"""Per-field accuracy of an extraction provider on a data set with ground truth.

    python -m bench.accuracy [--provider local|openai] [--data ../shared/data/receipts-dev]
                             [--concurrency N] [--limit N] [--decode-processes N] [-v]
    python -m bench.accuracy --cross-validate [--folds 5] [--seed 13]

`--decode-processes N`: decoding and OCR run in the extractor's decode pool of N processes, as
the service runs them (default: in threads of this process).

The second form measures the `local` provider's receipt ranker from the OCR cache
(`bench.ocr_cache`): per field, the shipped model on the receipts it was fitted on
(receipts-dev + receipts-train) and each receipt read by a model fitted on the other folds.

Compares vendor name and address, date and total with `truth.jsonl`, normalised as the data
set's README says: totals as plain decimals, dates as ISO (day-first), names and addresses case-
and whitespace-insensitively. Also reports calibration: of the fields reported with confidence
>= 0.8, how many are right. Figures go to docs/accuracy.md; JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from contracts import Extraction, Invoice
from services.extractor.documents import load_document
from services.extractor.local_provider import LocalProvider
from services.extractor.ocr import OcrEngine
from services.extractor.open_document import OpenDocument
from services.extractor.openai_provider import provider_from_settings
from services.extractor.provider import ExtractionProvider, no_report
from services.extractor.settings import ExtractorSettings
from services.pages.decode_pool import DecodePool, InThread, PoolLimits, Runner
from services.pages.render import DocumentLimits

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "receipts-dev"
RESULTS = Path(__file__).resolve().parent / "results"
_DATE_FORMATS = (
    "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d-%m-%y", "%d %b %Y", "%Y-%m-%d", "%d%m%Y",
    "%d-%b-%Y", "%d/%b/%Y", "%d %B %Y", "%d.%m.%Y", "%d.%m.%y", "%d %b %y", "%Y%m%d",
    "%m/%d/%Y",  # last: only a date no day-first reading fits (12/13/2016)
)  # fmt: skip


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


def squash(text: str | None) -> str:
    return "".join((text or "").upper().split())


FIELDS = ("vendor.name", "vendor.address", "invoice_date", "total")
# The synthetic set (`bench.synthetic`) knows every field.
SYNTHETIC_FIELDS = (
    "vendor.name", "vendor.address", "invoice_number", "invoice_date", "currency",
    "subtotal", "total_tax", "total", "line_items",
)  # fmt: skip
CONFIDENT = 0.8


def invoice_values(invoice: Invoice) -> dict[str, str | None]:
    def text(value: object) -> str | None:
        if isinstance(value, Decimal):
            return format(value, "f")  # "10", never "1E+1"
        return None if value is None else str(value)

    items = [
        (i.description, text(i.quantity), text(i.unit_price), text(i.amount))
        for i in invoice.line_items
    ]
    return {
        "vendor.name": invoice.vendor.name,
        "vendor.address": invoice.vendor.address,
        "invoice_number": invoice.invoice_number,
        "invoice_date": invoice.invoice_date.isoformat() if invoice.invoice_date else None,
        "currency": invoice.currency,
        "subtotal": text(invoice.subtotal),
        "total_tax": text(invoice.total_tax),
        "total": None if invoice.total is None else format(invoice.total, "f"),
        "line_items": json.dumps(items) if items else None,
    }


def got_values(extraction: Extraction) -> dict[str, str | None]:
    return invoice_values(extraction.invoice)


def want_values(truth: dict[str, Any]) -> dict[str, str | None]:
    if "invoice" in truth:
        return invoice_values(Invoice.model_validate(truth["invoice"]))
    return {
        "vendor.name": truth["company"],
        "vendor.address": truth.get("address"),
        "invoice_date": truth_date(truth["date"]),
        "total": truth_total(truth["total"]),
    }


def same(field: str, got: str | None, want: str | None) -> bool:
    if got is None or want is None:
        return False
    if field in ("vendor.name", "vendor.address"):
        # The data set's README: names and addresses case- and whitespace-insensitively.
        return squash(got) == squash(want)
    return got == want


@dataclass
class FieldScore:
    right: int = 0
    confident: int = 0
    confident_right: int = 0


@dataclass
class Score:
    names: tuple[str, ...] = FIELDS
    count: int = 0
    fields: dict[str, FieldScore] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fields = {name: FieldScore() for name in self.names}

    def add(self, truth: dict[str, Any], extraction: Extraction, verbose: bool) -> None:
        self.count += 1
        got, want = got_values(extraction), want_values(truth)
        for name in self.names:
            right = same(name, got[name], want[name])
            score = self.fields[name]
            score.right += right
            if extraction.confidence.get(name, 0.0) >= CONFIDENT:
                score.confident += 1
                score.confident_right += right
            if verbose and not right:
                print(f"  {truth['file']}: {name} got {got[name]!r}, want {want[name]!r}")

    def table(self) -> str:
        lines = [
            f"| field | right | % | confidence >= {CONFIDENT}: right / reported |",
            "|---|---|---|---|",
        ]
        for name, s in self.fields.items():
            calibrated = f"{s.confident_right}/{s.confident}" if s.confident else "–"
            lines.append(
                f"| {name} | {s.right}/{self.count} | {s.right / self.count:.0%} | {calibrated} |"
            )
        return "\n".join(lines)


def make_provider(name: str, concurrency: int, runner: Runner | None = None) -> ExtractionProvider:
    if name == "local":
        return LocalProvider(OcrEngine(threads=concurrency, runner=runner))
    # OPENAI_API_KEY, OPENAI_BASE_URL, INVOICEFLOW_OPENAI_MODEL: as the extractor reads them.
    provider = provider_from_settings(ExtractorSettings())
    if provider is None:
        raise SystemExit(
            "--provider openai needs OPENAI_API_KEY (and OPENAI_BASE_URL if not OpenAI)"
        )
    return provider


async def evaluate(  # noqa: PLR0917
    data: Path,
    concurrency: int,
    limit: int | None,
    verbose: bool,
    rendering: str = "digital",
    provider_name: str = "local",
    decode_processes: int = 0,
) -> Score:
    truths = [json.loads(line) for line in (data / "truth.jsonl").read_text().splitlines()]
    truths = truths[:limit] if limit else truths
    synthetic = bool(truths) and "invoice" in truths[0]
    if synthetic:
        # `bench.synthetic` output: each invoice as a digital PDF and as a scan.
        truths = [{**truth, "file": truth[rendering]} for truth in truths]
    runner: Runner = (
        DecodePool(PoolLimits(processes=decode_processes)) if decode_processes else InThread()
    )
    try:
        return await _evaluate(
            data, truths, concurrency, verbose, rendering, provider_name, runner, synthetic
        )
    finally:
        await runner.close()


async def _evaluate(  # noqa: PLR0917
    data: Path,
    truths: list[dict[str, Any]],
    concurrency: int,
    verbose: bool,
    rendering: str,
    provider_name: str,
    runner: Runner,
    synthetic: bool,
) -> Score:
    provider = make_provider(provider_name, concurrency, runner)
    # The first run loads the models (in every decode process); keep that out of the timing.
    first = await runner.run(
        load_document, (data / truths[0]["file"]).read_bytes(), DocumentLimits()
    )
    await asyncio.gather(
        *(
            provider.extract(OpenDocument(first), model=None, report=no_report)
            for _ in range(concurrency)
        )
    )
    score = Score(SYNTHETIC_FIELDS if synthetic else FIELDS)
    gate = asyncio.Semaphore(concurrency)

    async def one(truth: dict[str, Any]) -> tuple[dict[str, Any], Extraction]:
        async with gate:
            content = (data / truth["file"]).read_bytes()
            document = await runner.run(load_document, content, DocumentLimits())
            return truth, await provider.extract(
                OpenDocument(document), model=None, report=no_report
            )

    started = time.perf_counter()
    results = await asyncio.gather(*(one(truth) for truth in truths))
    elapsed = time.perf_counter() - started
    for truth, extraction in results:
        score.add(truth, extraction, verbose)
    pages = max(1, sum(extraction.pages for _, extraction in results))
    what = f"{rendering} invoices" if synthetic else "receipts"
    print(f"{provider_name} provider on {score.count} {what} from {data}")
    print(score.table())
    print(
        f"{elapsed:.1f} s wall, {elapsed / pages:.2f} s per page ({pages} pages) "
        f"with {concurrency} extraction(s) at once"
    )
    input_tokens = sum(extraction.usage.input_tokens for _, extraction in results)
    output_tokens = sum(extraction.usage.output_tokens for _, extraction in results)
    if input_tokens or output_tokens:
        print(
            f"tokens per page: {input_tokens / pages:.0f} in, {output_tokens / pages:.0f} out "
            f"(as the endpoint reported them)"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"accuracy-{provider_name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "data": str(data),
                "count": score.count,
                "seconds_per_page": elapsed / pages,
                "concurrency": concurrency,
                "provider": provider_name,
                "tokens": {"input": input_tokens, "output": output_tokens},
                "fields": {name: asdict(s) for name, s in score.fields.items()},
            },
            indent=2,
        )
    )
    print(f"written to {out}")
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--provider", choices=("local", "openai"), default="local")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument(
        "--rendering", choices=("digital", "scan"), default="digital", help="synthetic set only"
    )
    parser.add_argument("--limit", type=int, help="only the first N receipts")
    parser.add_argument("--decode-processes", type=int, default=0, help="0: in threads")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every miss")
    parser.add_argument(
        "--cross-validate", action="store_true", help="the receipt ranker, from the OCR cache"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    if args.cross_validate:
        # Imported here: bench.ranker_eval builds on this module's comparisons.
        from bench.ranker_eval import report

        report(args.folds, args.seed)
        return
    asyncio.run(
        evaluate(
            args.data,
            args.concurrency,
            args.limit,
            args.verbose,
            args.rendering,
            args.provider,
            args.decode_processes,
        )
    )


if __name__ == "__main__":
    main()
