"""Saved-invoice API benchmark: list, filter, page and read through the gateway.

Seeds N invoices of one tenant (every 10th a copy of an earlier one, every 4th needing review)
straight into PostgreSQL through the persister's repository, then starts the four services as
processes and measures sequential request latency of:

  list         GET /api/invoices (first page, 50 items)
  review queue GET /api/invoices?status=needs_review
  vendor       GET /api/invoices?vendor=<prefix>
  dates        GET /api/invoices?date_from=…&date_to=…
  deep page    following next_cursor to page 20
  counts       GET /api/invoices/counts (per status, the workspace's filter bar)
  one          GET /api/invoices/{id} (with line items and findings)
  review       POST /api/invoices/{id}/review (re-validated by the validator)
  export       GET /api/invoices/export?format=csv|jsonl (every invoice, streamed; 3 requests)

    python -m bench.store                   # 10,000 invoices, 200 requests per query
    python -m bench.store --invoices 100000 --requests 100
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import platform
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from bench.pipeline import percentile
from contracts import Extraction, Invoice, ValidationIssue, ValidationReport
from deploy.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from services.persister.migrations import migrate
from services.persister.repository import Repository
from services.process import run
from testkit.stack import Stack

VENDORS = ("ACME GmbH", "Zeta Ltd", "Globex Inc.", "Initech LLC", "Umbrella AG", "Hooli")
API_KEY = "bench-key"
LOW = ValidationIssue(code="low_confidence", field="total", message="low", severity="warning")


def extraction(n: int) -> Extraction:
    day = dt.date(2025, 1, 1) + dt.timedelta(days=n % 600)
    invoice = Invoice.model_validate(
        {
            "document_type": "invoice",
            "invoice_number": f"INV-{n:07d}",
            "invoice_date": day.isoformat(),
            "currency": "EUR",
            "vendor": {"name": VENDORS[n % len(VENDORS)]},
            "subtotal": "100.00",
            "total_tax": "19.00",
            "total": "119.00",
            "line_items": [
                {"description": f"Item {i}", "unit_price": "25.00", "amount": "25.00"}
                for i in range(4)
            ],
        }
    )
    return Extraction(invoice=invoice, confidence={"total": 0.95}, provider="local")


async def seed(database_url: str, count: int) -> list[str]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    try:
        await migrate(pool)
        repository = Repository(pool)

        async def one(n: int) -> str:
            report = (
                ValidationReport(status="needs_review", issues=[LOW])
                if n % 4 == 0
                else ValidationReport(status="valid")
            )
            # Every 10th repeats an earlier invoice's vendor and number: a duplicate.
            number = n - 5 if n % 10 == 9 else n
            saved = await repository.save_invoice(
                task_id=f"task_{uuid.uuid4().hex}",
                tenant="bench",
                filename=f"{n}.pdf",
                file_sha256=uuid.uuid4().hex * 2,
                extraction=extraction(number),
                validation=report,
            )
            return saved.invoice_id

        # In order: "every 10th repeats an earlier one" needs the earlier one saved first.
        ids = [await one(n) for n in range(count)]
        # Autovacuum would gather the statistics within a minute; measure that steady state.
        await pool.execute("ANALYZE invoices")
        return ids
    finally:
        await pool.close()


async def timed(
    requests: int, call: Callable[[int], Awaitable[httpx.Response]]
) -> dict[str, float]:
    samples = []
    for n in range(requests):
        started = time.perf_counter()
        response = await call(n)
        samples.append(time.perf_counter() - started)
        if response.status_code >= 400:
            raise RuntimeError(f"{response.status_code}: {response.text}")
    return {"p50_ms": percentile(samples, 0.5) * 1000, "p99_ms": percentile(samples, 0.99) * 1000}


async def exported(
    http: httpx.AsyncClient, export_format: str, count: int, attempt: int
) -> httpx.Response:
    """The whole export, read as it streams; its rows counted (`attempt` unused: `timed`'s)."""
    params = {"format": export_format}
    async with http.stream("GET", "/api/invoices/export", params=params, timeout=600) as answer:
        lines = 0
        async for _ in answer.aiter_lines():
            lines += 1
    expected = count + (1 if export_format == "csv" else 0)
    if answer.status_code == 200 and lines != expected:
        raise RuntimeError(f"export {export_format}: {lines} lines, expected {expected}")
    return answer


async def measure(stack: Stack, ids: list[str], requests: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30, headers=headers) as http:
        results["list"] = await timed(requests, lambda n: http.get("/api/invoices"))
        results["review queue"] = await timed(
            requests, lambda n: http.get("/api/invoices", params={"status": "needs_review"})
        )
        results["vendor"] = await timed(
            requests, lambda n: http.get("/api/invoices", params={"vendor": "glob"})
        )
        results["dates"] = await timed(
            requests,
            lambda n: http.get(
                "/api/invoices", params={"date_from": "2025-03-01", "date_to": "2025-03-31"}
            ),
        )
        results["counts"] = await timed(requests, lambda n: http.get("/api/invoices/counts"))
        cursor = None
        for _ in range(19):
            page: dict[str, Any] = (
                await http.get("/api/invoices", params={"cursor": cursor} if cursor else {})
            ).json()
            cursor = page["next_cursor"]
        results["deep page (20th)"] = await timed(
            requests, lambda n: http.get("/api/invoices", params={"cursor": cursor})
        )
        results["one"] = await timed(
            requests, lambda n: http.get(f"/api/invoices/{random.choice(ids)}")
        )
        for export_format in ("csv", "jsonl"):
            whole = functools.partial(exported, http, export_format, len(ids))
            results[f"export {export_format}"] = await timed(3, whole)
        targets = random.sample(ids, min(requests, len(ids)))
        results["review"] = await timed(
            len(targets),
            lambda n: http.post(
                f"/api/invoices/{targets[n]}/review",
                json={"decision": "reject", "reviewer": "bench", "corrections": {"total": "1"}},
            ),
        )
    return results


async def main_async(args: argparse.Namespace, workdir: Path) -> dict[str, dict[str, float]]:
    postgres = EmbeddedPostgres(workdir / "postgres").start()
    nats = EmbeddedNats(workdir / "nats", free_port()).start()
    try:
        started = time.perf_counter()
        ids = await seed(postgres.url, args.invoices)
        print(f"seeded {len(ids)} invoices in {time.perf_counter() - started:.1f} s")
        stack = Stack(
            nats_url=nats.url,
            database_url=postgres.url,
            log_dir=workdir / "logs",
            env={"INVOICEFLOW_LOG_LEVEL": "WARNING", "INVOICEFLOW_API_KEYS": f"{API_KEY}:bench"},
        ).start()
        try:
            return await measure(stack, ids, args.requests)
        finally:
            stack.stop()
    finally:
        nats.stop()
        postgres.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="invoiceflow-bench-store-") as tmp:
        results = run(main_async(args, Path(tmp)))
    print(
        f"machine: {platform.machine()}, {psutil.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.invoices} invoices, one tenant"
    )
    for name, figures in results.items():
        print(f"  {name:18} p50 {figures['p50_ms']:6.1f} ms   p99 {figures['p99_ms']:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
