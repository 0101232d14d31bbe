"""Structured e-invoices through the whole pipeline: no model, so the stack itself is measured.

Starts real nats-server and PostgreSQL and the four services as separate processes (as
bench.pipeline does), then sends N distinct e-invoices at once through the public API (upload,
trigger, socket until `complete`) and reports tasks/s, latency and CPU per task. Also times the
reading alone, in this process (parse, map, XSD, Schematron, the picture check).

    python -m bench.einvoices                          # UBL, CII and hybrid PDF, Schematron on
    python -m bench.einvoices --tasks 400 --kinds ubl --no-schematron
    python -m bench.einvoices --kinds cii --extractors 2         # Saxon is one at a time a process
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import aiohttp

from bench.pipeline import (
    BENCH_CLIENT,
    RESULTS,
    Figures,
    burst_figures,
    cpu_used,
    machine,
    print_figures,
    stack_cpu_seconds,
)
from deploy.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from services.extractor.einvoice.attachments import find_einvoice
from services.extractor.einvoice.reader import read_source
from services.extractor.einvoice.standard import warm_up
from services.process import run
from testkit.contract_client import Socket
from testkit.einvoices import einvoice_xml, hybrid_pdf, sample_invoice, visible_lines
from testkit.stack import Stack

KINDS = ("ubl", "cii", "pdf")
MIME = {"ubl": "application/xml", "cii": "application/xml", "pdf": "application/pdf"}


def document(kind: str, index: int) -> bytes:
    """A distinct e-invoice (blobs are content-addressed): its own number."""
    invoice = sample_invoice(invoice_number=f"RE-{index:06d}")
    if kind == "pdf":
        return hybrid_pdf(einvoice_xml(invoice, "cii"), visible_lines(invoice))
    return einvoice_xml(invoice, "ubl" if kind == "ubl" else "cii")


async def run_task(
    http: aiohttp.ClientSession, socket: Socket, kind: str, data: bytes, index: int
) -> tuple[float, bool]:
    started = time.perf_counter()
    form = aiohttp.FormData()
    form.add_field("file", data, filename=f"invoice-{index}.{kind}", content_type=MIME[kind])
    async with http.post("/api/invoices", data=form) as response:
        response.raise_for_status()
        [task] = (await response.json())["tasks"]
    joined = await socket.join(task["task_id"], task["token"])
    if joined["event"] != "joined_task":
        raise RuntimeError(f"join failed: {joined}")
    updates = await socket.until_done(task["task_id"], timeout=120)
    final = updates[-1]
    return time.perf_counter() - started, (
        final["type"] == "complete" and final["result"]["provider"] == "einvoice"
    )


async def through_the_stack(
    stack: Stack, pids: dict[str, int], kind: str, args: argparse.Namespace
) -> Figures:
    tasks, sockets = args.tasks, args.sockets
    schematron = "on" if args.schematron else "off"
    documents = [document(kind, i) for i in range(tasks)]
    connector = aiohttp.TCPConnector(limit=100)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(stack.base_url, connector=connector, timeout=timeout) as http:
        clients = [await Socket.connect(stack.ws_url, max_queue=None) for _ in range(sockets)]
        await run_task(http, clients[0], kind, document(kind, 999_999), -1)  # warm-up
        before = stack_cpu_seconds(pids)
        started = time.perf_counter()
        results = await asyncio.gather(
            *(run_task(http, clients[i % sockets], kind, documents[i], i) for i in range(tasks)),
            return_exceptions=True,
        )
        wall = time.perf_counter() - started
        by_process = cpu_used(before, stack_cpu_seconds(pids))
        for client in clients:
            await client.close()
    replicas = stack.replicas.get("extractor", 1)
    workload = (
        f"einvoices: {tasks} {kind} at once, {sockets} sockets, {replicas} extractor(s), "
        f"schematron {schematron}"
    )
    return burst_figures(workload, results, wall, by_process)


def reading_alone(kind: str, schematron: bool, count: int = 200) -> float:
    """Documents read per second on one core, in this process."""
    from services.extractor.documents import load_document
    from services.pages.render import DocumentLimits

    documents = [document(kind, i) for i in range(count)]
    started = time.perf_counter()
    for data in documents:
        source = find_einvoice(data)
        assert source is not None
        texts = (
            [p.text for p in load_document(data, DocumentLimits()).pages] if kind == "pdf" else []
        )
        read_source(source, texts, schematron=schematron)
    return count / (time.perf_counter() - started)


async def measure(args: argparse.Namespace, workdir: Path) -> list[Figures]:
    figures: list[Figures] = []
    postgres = EmbeddedPostgres(workdir / "postgres").start()
    try:
        for kind in args.kinds:
            nats = EmbeddedNats(workdir / f"nats-{kind}", free_port()).start()
            stack = Stack(
                nats_url=nats.url,
                database_url=postgres.url,
                log_dir=workdir / f"logs-{kind}",
                replicas={"extractor": args.extractors},
                env={
                    "INVOICEFLOW_LOG_LEVEL": "WARNING",
                    "INVOICEFLOW_EINVOICE_SCHEMATRON": "true" if args.schematron else "false",
                },
            ).start()
            pids = {name: p.pid for name, p in stack.procs.items()}
            pids |= {"postgres": postgres.pid, BENCH_CLIENT: os.getpid()}
            if nats.process is not None:
                pids["nats-server"] = nats.process.pid
            try:
                figures.append(await through_the_stack(stack, pids, kind, args))
            finally:
                stack.stop()
                nats.stop()
    finally:
        postgres.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--sockets", type=int, default=10)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--extractors", type=int, default=1, help="extractor replicas")
    parser.add_argument("--no-schematron", dest="schematron", action="store_false")
    parser.add_argument("--skip-stack", action="store_true", help="only the in-process reading")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    if args.schematron:
        warm_up()
    alone = {kind: reading_alone(kind, args.schematron) for kind in args.kinds}
    for kind, rate in alone.items():
        print(
            f"reading alone ({kind}, schematron {'on' if args.schematron else 'off'}): "
            f"{rate:.0f} documents/s on one core"
        )
    figures: list[Figures] = []
    if not args.skip_stack:
        with tempfile.TemporaryDirectory(prefix="invoiceflow-bench-") as tmp:
            figures = run(measure(args, Path(tmp)))
    print_figures(figures)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"einvoices-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "schematron": args.schematron,
                "reading_alone_per_second": alone,
                "figures": [asdict(f) for f in figures],
            },
            indent=2,
        )
    )
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
