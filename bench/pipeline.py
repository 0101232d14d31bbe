"""End-to-end pipeline benchmark through the public API only.

Starts real nats-server (JetStream) and PostgreSQL, the fake OpenAI-compatible model as its own
process, and the four services as separate processes, then measures:

  throughput   N tasks at once, zero-latency model (or `--model-latency`), small images: tasks/s and
               p50/p99 latency from upload start to `complete` received on the socket; W socket
               clients join each task's room after the trigger POST returns (as the old
               frontend did); CPU seconds per task across every process of the stack.
  batch        10 files in one batch, 2 s model latency, one extractor replica: wall time
               from the batch POST to the last `complete`.

    python -m bench.pipeline                  # both, defaults as in docs/benchmarks.md
    python -m bench.pipeline --tasks 400 --sockets 10 --only throughput
    python -m bench.pipeline --only throughput --model-latency 0.5   # a slow model
    python -m bench.pipeline --nats-cluster 3 --sync-always   # 3-node cluster, R3, fsync per ack
    python -m bench.pipeline --only throughput --evidence-ocr off   # no OCR pass for evidence
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
from PIL import Image, ImageDraw

from deploy.embedded import (
    SYNC_ALWAYS,
    EmbeddedNats,
    EmbeddedNatsCluster,
    EmbeddedPostgres,
    free_port,
)
from services.process import run
from testkit.contract_client import Socket
from testkit.model import fake_model
from testkit.stack import Stack

RESULTS = Path(__file__).resolve().parent / "results"
BENCH_CLIENT = "(bench client)"


def receipt_image(index: int, size: tuple[int, int] = (400, 300)) -> bytes:
    """A small, distinct receipt-like PNG (distinct bytes: blobs are content-addressed)."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.text((20, 20), "ACME GmbH", fill="black")
    draw.text((20, 60), f"Invoice INV-{index:05d}", fill="black")
    draw.text((20, 100), f"Total EUR {random.randint(1, 999)}.00", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Figures:
    workload: str
    tasks: int
    completed: int
    wall_seconds: float
    tasks_per_second: float
    p50_seconds: float
    p99_seconds: float
    max_seconds: float
    cpu_seconds_per_task: float
    cpu_seconds_by_process: dict[str, float]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> str:
    return f"{platform.machine()}, {psutil.cpu_count()} cores, Python {platform.python_version()}"


def stack_cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU per named process, its children included (postgres backends too)."""
    seconds: dict[str, float] = {}
    for name, pid in pids.items():
        try:
            root = psutil.Process(pid)
            # The bench client's children are the stack itself: counted under their own names.
            own = name == BENCH_CLIENT
            procs = [root] if own else [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            seconds[name] = seconds.get(name, 0.0) + times.user + times.system
    return seconds


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


async def run_task(
    http: aiohttp.ClientSession, socket: Socket, index: int, image: bytes
) -> tuple[float, bool]:
    started = time.perf_counter()
    form = aiohttp.FormData()
    form.add_field("file", image, filename=f"receipt-{index}.png", content_type="image/png")
    async with http.post("/api/upload", data=form) as uploaded:
        uploaded.raise_for_status()
        blob = await uploaded.json()
    trigger = {"blob_url": blob["blob_url"], "filename": blob["filename"], "options": {}}
    async with http.post("/api/invoices/upload", json=trigger) as triggered:
        triggered.raise_for_status()
        task = await triggered.json()
    joined = await socket.join(task["task_id"], task["token"])
    if joined["event"] != "joined_task":
        raise RuntimeError(f"join failed: {joined}")
    updates = await socket.until_done(task["task_id"], timeout=120)
    return time.perf_counter() - started, updates[-1]["type"] == "complete"


async def paced(delay: float, task: Coroutine[Any, Any, tuple[float, bool]]) -> tuple[float, bool]:
    await asyncio.sleep(delay)  # pacing an open-loop load, not synchronisation
    return await task


async def throughput(
    stack: Stack,
    pids: dict[str, int],
    tasks: int,
    sockets: int,
    *,
    rate: float | None = None,
    latency: float = 0.0,
) -> Figures:
    """All `tasks` at once, or (with `rate`) started at `rate` per second: latency below
    saturation, as users see it, rather than the queueing of a burst."""
    images = [receipt_image(i) for i in range(tasks)]
    # aiohttp, not httpx, for the load: httpx's pool scans every connection for every queued
    # request, and with 200 requests in flight spent more CPU than the stack it was measuring.
    connector = aiohttp.TCPConnector(limit=100)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(stack.base_url, connector=connector, timeout=timeout) as http:
        clients = [await Socket.connect(stack.ws_url, max_queue=None) for _ in range(sockets)]
        # Warm up every code path once (imports, pools, JIT-less caches) before measuring.
        await run_task(http, clients[0], -1, receipt_image(-1))
        cpu_before = stack_cpu_seconds(pids)
        started = time.perf_counter()
        results = await asyncio.gather(
            *(
                paced(i / rate if rate else 0.0, run_task(http, clients[i % sockets], i, images[i]))
                for i in range(tasks)
            ),
            return_exceptions=True,
        )
        wall = time.perf_counter() - started
        cpu_by_process = cpu_used(cpu_before, stack_cpu_seconds(pids))
        for socket in clients:
            await socket.close()
    workload = (
        f"throughput: {tasks} tasks "
        + (f"started at {rate:g}/s" if rate else "at once")
        + (f", {latency:g} s model" if latency else ", zero-latency model")
        + f", {sockets} sockets"
    )
    return burst_figures(workload, results, wall, cpu_by_process)


def burst_figures(
    workload: str,
    results: list[tuple[float, bool] | BaseException],
    wall: float,
    cpu_by_process: dict[str, float],
) -> Figures:
    """The figures of tasks run at once: each result is (latency, completed) or what it raised."""
    latencies = [r[0] for r in results if isinstance(r, tuple) and r[1]]
    failures = [r for r in results if not (isinstance(r, tuple) and r[1])]
    if failures:
        print(f"{len(failures)} tasks did not complete, e.g. {failures[0]!r}")
    cpu = sum(v for k, v in cpu_by_process.items() if not k.startswith("("))
    return Figures(
        workload=workload,
        tasks=len(results),
        completed=len(latencies),
        wall_seconds=wall,
        tasks_per_second=len(latencies) / wall,
        p50_seconds=percentile(latencies, 0.50),
        p99_seconds=percentile(latencies, 0.99),
        max_seconds=max(latencies, default=float("nan")),
        cpu_seconds_per_task=cpu / max(len(latencies), 1),
        cpu_seconds_by_process=cpu_by_process,
    )


async def batch(stack: Stack, pids: dict[str, int], files: int) -> Figures:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client:
        socket = await Socket.connect(stack.ws_url)
        cpu_before = stack_cpu_seconds(pids)
        started = time.perf_counter()
        response = await client.post(
            "/api/invoices",
            files=[
                ("file", (f"batch-{i}.png", receipt_image(10_000 + i), "image/png"))
                for i in range(files)
            ],
        )
        response.raise_for_status()
        tasks: list[dict[str, Any]] = response.json()["tasks"]
        for task in tasks:
            await socket.join(task["task_id"], task["token"])
        done = await asyncio.gather(*(socket.until_done(t["task_id"], 120) for t in tasks))
        wall = time.perf_counter() - started
        cpu_by_process = cpu_used(cpu_before, stack_cpu_seconds(pids))
        cpu = sum(v for k, v in cpu_by_process.items() if not k.startswith("("))
        await socket.close()
    completed = sum(1 for updates in done if updates[-1]["type"] == "complete")
    return Figures(
        workload=f"batch: {files} files in one POST /api/invoices, 2 s model, 1 extractor",
        tasks=files,
        completed=completed,
        wall_seconds=wall,
        tasks_per_second=completed / wall,
        p50_seconds=wall,
        p99_seconds=wall,
        max_seconds=wall,
        cpu_seconds_per_task=cpu / max(completed, 1),
        cpu_seconds_by_process=cpu_by_process,
    )


def start_nats(data: Path, cluster: int, sync_always: bool) -> EmbeddedNats | EmbeddedNatsCluster:
    options = SYNC_ALWAYS if sync_always else ()
    if cluster:
        return EmbeddedNatsCluster(data, cluster, args=options).start()
    return EmbeddedNats(data, free_port(), args=options).start()


def nats_pids(nats: EmbeddedNats | EmbeddedNatsCluster) -> dict[str, int]:
    nodes = nats.nodes if isinstance(nats, EmbeddedNatsCluster) else [nats]
    named = {node.name or "nats-server": node.process for node in nodes}
    return {name: process.pid for name, process in named.items() if process is not None}


def extractor_env(in_flight: int | None) -> dict[str, str]:
    """Messages one extractor holds, and model calls it makes, at once (None: the defaults)."""
    if in_flight is None:
        return {}
    return {
        "INVOICEFLOW_MAX_IN_FLIGHT": str(in_flight),
        "INVOICEFLOW_OPENAI_MAX_CONCURRENCY": str(in_flight),
    }


async def measure(args: argparse.Namespace, workdir: Path) -> list[Figures]:
    figures: list[Figures] = []
    workloads = [w for w in ("throughput", "batch") if args.only in (None, w)]
    postgres = EmbeddedPostgres(workdir / "postgres").start()
    try:
        for workload in workloads:
            latency = args.model_latency if workload == "throughput" else args.batch_latency
            nats = start_nats(workdir / f"nats-{workload}", args.nats_cluster, args.sync_always)
            try:
                with fake_model(latency) as model:
                    stack = Stack(
                        nats_url=nats.url,
                        database_url=postgres.url,
                        log_dir=workdir / f"logs-{workload}",
                        env={
                            "OPENAI_API_KEY": "bench",
                            "OPENAI_BASE_URL": model.url,
                            "INVOICEFLOW_LOG_LEVEL": "WARNING",
                            "INVOICEFLOW_STREAM_REPLICAS": str(args.nats_cluster or 1),
                            "INVOICEFLOW_EVIDENCE_OCR": args.evidence_ocr,
                        },
                        replicas={"extractor": args.extractors},
                        service_envs={"extractor": extractor_env(args.extractor_in_flight)},
                    ).start()
                    pids = {name: p.pid for name, p in stack.procs.items()}
                    pids |= nats_pids(nats) | {"postgres": postgres.pid}
                    # Not the stack's, but they share its two cores: shown, not summed.
                    pids |= {"(model)": model.pid, BENCH_CLIENT: os.getpid()}
                    try:
                        if workload == "throughput":
                            figures.append(
                                await throughput(
                                    stack,
                                    pids,
                                    args.tasks,
                                    args.sockets,
                                    rate=args.rate,
                                    latency=latency,
                                )
                            )
                        else:
                            figures.append(await batch(stack, pids, args.batch_files))
                    finally:
                        stack.stop()
            finally:
                nats.stop()
    finally:
        postgres.stop()
    return figures


def print_figures(figures: list[Figures]) -> None:
    for f in figures:
        print(
            f"{f.workload}\n  completed {f.completed}/{f.tasks} in {f.wall_seconds:.2f} s: "
            f"{f.tasks_per_second:.1f} tasks/s, p50 {f.p50_seconds:.3f} s, "
            f"p99 {f.p99_seconds:.3f} s, max {f.max_seconds:.3f} s, "
            f"{f.cpu_seconds_per_task * 1000:.1f} ms CPU/task"
        )
        per_task = {
            name: seconds * 1000 / max(f.completed, 1)
            for name, seconds in sorted(f.cpu_seconds_by_process.items())
        }
        print("  CPU ms/task: " + ", ".join(f"{n} {ms:.1f}" for n, ms in per_task.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=10)
    parser.add_argument("--rate", type=float, help="start tasks at this rate per second")
    parser.add_argument(
        "--model-latency", type=float, default=0.0, help="throughput: seconds per model call"
    )
    parser.add_argument("--batch-files", type=int, default=10)
    parser.add_argument("--batch-latency", type=float, default=2.0)
    parser.add_argument("--only", choices=("throughput", "batch"))
    parser.add_argument(
        "--nats-cluster", type=int, choices=(3, 5), default=0, help="N nodes, R<N> streams"
    )
    parser.add_argument("--extractors", type=int, default=1, help="extractor replicas")
    parser.add_argument(
        "--extractor-in-flight",
        type=int,
        help="messages and model calls one extractor takes at once (default: its settings')",
    )
    parser.add_argument("--sync-always", action="store_true", help="fsync before every ack")
    parser.add_argument(
        "--evidence-ocr",
        choices=("auto", "on", "off"),
        default="auto",
        help="the extractor's OCR pass for evidence on images (INVOICEFLOW_EVIDENCE_OCR)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="invoiceflow-bench-") as tmp:
        figures = run(measure(args, Path(tmp)))
    print(f"machine: {machine()}")
    print_figures(figures)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"pipeline-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps({"machine": machine(), "figures": [asdict(f) for f in figures]}, indent=2)
    )
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
