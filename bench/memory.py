"""The extractor's memory through hostile and heavy documents, measured on real processes.

Starts real nats-server and PostgreSQL, the fake model and the four services (one extractor),
then uploads, through the public API only: the hostile corpus (testkit/hostile.py), large
decodable images (36-megapixel PNGs, a 38-megapixel JPEG, a 10-page TIFF of 12-megapixel pages)
and real receipts read by the `local` provider (OCR). The resident memory of the extractor's
process tree (the service and every child it has: the decode processes), read from /proc
every 0.1 s, is reported as its peak during the run, right after the last task, and after
`--settle` seconds of quiet.

    python -m bench.memory                       # defaults as in docs/benchmarks.md
    python -m bench.memory --receipts 20 --settle 20
    python -m bench.memory --held 64 --model-latency 10 --data ../shared/data/receipts-train

`--held N`: instead, N real receipt photos at once through the `openai` provider with a slow
fake model, the extractor allowed N messages and N model calls at once and no OCR pass for
evidence: what a replica holds in memory while N model calls wait.

Run it in a checkout of the code before a change (with this file and testkit/hostile.py copied
in) to compare: it needs nothing else of the change.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil
from PIL import Image, ImageDraw

from deploy.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from testkit.contract_client import Socket, trigger, upload
from testkit.hostile import CORPUS, png_many_pixels
from testkit.model import fake_model
from testkit.stack import Stack

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "receipts-dev"
RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1024 * 1024


def tree_rss(pid: int) -> tuple[int, int]:
    """Resident bytes of the process `pid` and of its children (recursive), from /proc."""
    try:
        root = psutil.Process(pid)
        own = root.memory_info().rss
        children = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0, 0
    rest = 0
    for child in children:
        try:
            rest += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return own, rest


@dataclass
class Sampler:
    pid: int
    peak_tree: int = 0
    peak_parent: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.wait(0.1):
            own, rest = tree_rss(self.pid)
            self.peak_tree = max(self.peak_tree, own + rest)
            self.peak_parent = max(self.peak_parent, own)
            self.samples += 1

    def stop(self) -> None:
        self._stop.set()


def big_images() -> list[tuple[str, bytes]]:
    """Large documents within every limit: decoded, scaled and OCR'd for real."""
    photo = Image.new("RGB", (7000, 5400), "white")
    draw = ImageDraw.Draw(photo)
    for row in range(0, 5400, 90):
        draw.text((200, row), f"LINE {row:05d}   TOTAL 12.34", fill="black")
    jpeg = io.BytesIO()
    photo.save(jpeg, "JPEG", quality=70)
    pages = [Image.new("L", (3000, 4000), 255) for _ in range(10)]
    tiff = io.BytesIO()
    pages[0].save(tiff, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_deflate")
    pngs = [(f"big-{side}.png", png_many_pixels(side)) for side in (6000, 5999, 5998)]
    return [*pngs, ("photo.jpg", jpeg.getvalue()), ("pages.tiff", tiff.getvalue())]


@dataclass
class Figures:
    tasks: int
    outcomes: dict[str, int]
    wall_seconds: float
    peak_tree_mib: float
    peak_parent_mib: float
    after_tree_mib: float
    after_parent_mib: float
    settled_tree_mib: float
    settle_seconds: float


async def submit(
    http: httpx.AsyncClient,
    socket: Socket,
    files: list[tuple[str, bytes]],
    provider: str = "local",
) -> dict[str, int]:
    tasks = []
    for name, content in files:
        blob = await upload(http, name, content, "application/octet-stream")
        task = await trigger(http, blob["blob_url"], name, model_provider=provider)
        await socket.join(task["task_id"], task["token"])
        tasks.append(task["task_id"])
    outcomes: dict[str, int] = {}
    for task_id in tasks:
        last = (await socket.until_done(task_id, timeout=600))[-1]
        key = "complete" if last["type"] == "complete" else str(last["error"]["code"])
        outcomes[key] = outcomes.get(key, 0) + 1
    return outcomes


async def measure(args: argparse.Namespace, workdir: Path) -> Figures:
    env = {"INVOICEFLOW_DECODE_IDLE_SECONDS": str(args.idle)}
    if args.held:
        receipts = sorted((args.data / "images").glob("*.jpg"))[: args.held]
        files = [(path.name, path.read_bytes()) for path in receipts]
        provider = "openai"
        env |= {
            "INVOICEFLOW_MAX_IN_FLIGHT": str(args.held),
            "INVOICEFLOW_OPENAI_MAX_CONCURRENCY": str(args.held),
            "INVOICEFLOW_EVIDENCE_OCR": "off",
        }
    else:
        receipts = sorted((args.data / "images").glob("*.jpg"))[: args.receipts]
        # The gateway refuses what is no document at all itself: the rest reach the extractor.
        files = [(f"{h.name}.bin", h.make()) for h in CORPUS if h.code != "unsupported_media_type"]
        files += big_images() + [(path.name, path.read_bytes()) for path in receipts]
        provider = "local"
    postgres = EmbeddedPostgres(workdir / "postgres").start()
    nats = EmbeddedNats(workdir / "nats", free_port()).start()
    try:
        with fake_model(args.model_latency) as model:
            stack = Stack(
                nats_url=nats.url,
                database_url=postgres.url,
                log_dir=workdir / "logs",
                env={
                    "OPENAI_API_KEY": "bench",
                    "OPENAI_BASE_URL": model.url,
                    "INVOICEFLOW_LOG_LEVEL": "WARNING",
                    **env,
                },
            ).start()
            try:
                return await _run(stack, files, args.settle, provider)
            finally:
                stack.stop()
    finally:
        nats.stop()
        postgres.stop()


async def _run(
    stack: Stack, files: list[tuple[str, bytes]], settle: float, provider: str
) -> Figures:
    sampler = Sampler(stack.procs["extractor"].pid)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
        socket = await Socket.connect(stack.ws_url)
        try:
            outcomes = await submit(http, socket, files, provider)
        finally:
            await socket.close()
    wall = time.perf_counter() - started
    after_parent, after_rest = tree_rss(sampler.pid)
    await asyncio.sleep(settle)  # quiet on purpose: what the extractor gives back when idle
    sampler.stop()
    thread.join()
    settled = sum(tree_rss(sampler.pid))
    return Figures(
        tasks=len(files),
        outcomes=dict(sorted(outcomes.items())),
        wall_seconds=round(wall, 1),
        peak_tree_mib=round(sampler.peak_tree / MIB),
        peak_parent_mib=round(sampler.peak_parent / MIB),
        after_tree_mib=round((after_parent + after_rest) / MIB),
        after_parent_mib=round(after_parent / MIB),
        settled_tree_mib=round(settled / MIB),
        settle_seconds=settle,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--receipts", type=int, default=10)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds of quiet at the end")
    parser.add_argument(
        "--idle", type=float, default=10.0, help="INVOICEFLOW_DECODE_IDLE_SECONDS for the run"
    )
    parser.add_argument(
        "--held", type=int, default=0, help="N receipts at once through a slow model instead"
    )
    parser.add_argument(
        "--model-latency", type=float, default=0.0, help="seconds the fake model takes"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="invoiceflow-bench-") as tmp:
        figures = asyncio.run(measure(args, Path(tmp)))
    print(
        f"{figures.tasks} tasks in {figures.wall_seconds} s: {figures.outcomes}\n"
        f"extractor RSS (service + children), MiB: peak {figures.peak_tree_mib} "
        f"(service alone {figures.peak_parent_mib}), right after {figures.after_tree_mib} "
        f"(service {figures.after_parent_mib}), after {figures.settle_seconds:g} s quiet "
        f"{figures.settled_tree_mib}"
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"memory-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(asdict(figures), indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
