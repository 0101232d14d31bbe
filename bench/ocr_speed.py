"""OCR speed per receipt page on one core, for the engine's settings and candidate settings.

    python -m bench.ocr_speed [--config NAME ...] [--train-sample 40] [--seed 13]
                              [--limit N] [--shard I/N] [--no-cache] [--resume]
    python -m bench.ocr_speed --accuracy [--config NAME ...]
    python -m bench.ocr_speed --merge bench/results/ocr-speed-*.json

Every page of receipts-dev and of a fixed sample of receipts-train is read by each configuration
in turn, in a rotating order (the machine is shared: alternating keeps load drifts from
favouring one), each configuration's engine warmed up first. Per page: CPU seconds of this
process (every thread of it, so an engine's own thread pool counts too) and wall seconds; one
onnxruntime (or OpenVINO) thread. `--shard I/N` reads the I-th of N slices of the pages, for
running slices in parallel processes (`--merge` makes one table of their JSON).

Each configuration's OCR output also goes to its own OCR cache (`bench.ocr_cache`, keyed by the
settings), so that `--accuracy` then scores each configuration with the receipt ranker from that
cache, per data set and field: the shipped model (what `bench.accuracy` measures: the same rows,
the same model) and 5-fold cross-validated (as `bench.accuracy --cross-validate`). JSON goes to
bench/results/.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidocr import EngineType

from bench.accuracy import FIELDS
from bench.ocr_cache import DATA_SETS, cache_for, cache_path, lines_to_json, truths
from services.extractor.documents import load_document
from services.extractor.ocr import RAPIDOCR_PARAMS, OcrEngine
from services.pages.render import DocumentLimits

RESULTS = Path(__file__).resolve().parent / "results"
ONE_OPENVINO_THREAD = {
    "Det.engine_type": EngineType.OPENVINO,
    "Cls.engine_type": EngineType.OPENVINO,
    "Rec.engine_type": EngineType.OPENVINO,
    "EngineConfig.openvino.inference_num_threads": 1,
    "EngineConfig.openvino.num_streams": 1,
}
# OpenVINO's default on CPUs with bf16 (this one) is bf16: other text than onnxruntime's fp32.
OPENVINO_F32 = {**ONE_OPENVINO_THREAD, "EngineConfig.openvino.inference_precision_hint": "f32"}
# Settings on top of rapidocr's defaults (names from its config.yaml). "defaults" is what the
# extractor shipped with before this benchmark: only the log level and one thread.
BASE: Mapping[str, Any] = {
    "Global.log_level": "warning",
    "EngineConfig.onnxruntime.intra_op_num_threads": 1,
    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
}
CONFIGS: dict[str, Mapping[str, Any]] = {
    "defaults": BASE,
    "shipped": RAPIDOCR_PARAMS,
    "no-cls": {**BASE, "Global.use_cls": False},
    "arena": {**BASE, "EngineConfig.onnxruntime.enable_cpu_mem_arena": True},
    "rec-batch-1": {**BASE, "Rec.rec_batch_num": 1},
    "rec-batch-16": {**BASE, "Rec.rec_batch_num": 16},
    "det-max-1280": {**BASE, "Det.limit_type": "max", "Det.limit_side_len": 1280},
    "det-max-960": {**BASE, "Det.limit_type": "max", "Det.limit_side_len": 960},
    "det-max-736": {**BASE, "Det.limit_type": "max", "Det.limit_side_len": 736},
    "page-max-1600": {**BASE, "Global.max_side_len": 1600},
    "page-max-1280": {**BASE, "Global.max_side_len": 1280},
    "openvino": {**BASE, **ONE_OPENVINO_THREAD},
    "openvino-f32": {**BASE, **OPENVINO_F32},
    "openvino-f32-det-max-1280": {
        **BASE,
        **OPENVINO_F32,
        "Det.limit_type": "max",
        "Det.limit_side_len": 1280,
    },
    "openvino-det-max-1280": {
        **BASE,
        **ONE_OPENVINO_THREAD,
        "Det.limit_type": "max",
        "Det.limit_side_len": 1280,
    },
    "openvino-det-max-960": {
        **BASE,
        **ONE_OPENVINO_THREAD,
        "Det.limit_type": "max",
        "Det.limit_side_len": 960,
    },
}
DEFAULT_CONFIGS = ("defaults", "no-cls", "det-max-960", "openvino")


@dataclass
class Timings:
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile by linear interpolation between the closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rotated(names: Sequence[str], turn: int) -> list[str]:
    """`names` starting at the turn-th: page after page, each configuration goes first in turn."""
    start = turn % len(names)
    return [*names[start:], *names[:start]]


def sample(train: int, seed: int) -> list[tuple[Path, str]]:
    """Every receipt of receipts-dev, and `train` of receipts-train drawn with a fixed seed."""
    dev, rest = DATA_SETS
    picked = [truth["file"] for truth in truths(rest)]
    picked = sorted(random.Random(seed).sample(picked, min(train, len(picked))))
    return [(dev, truth["file"]) for truth in truths(dev)] + [(rest, file) for file in picked]


def measure(
    names: Sequence[str],
    receipts: Sequence[tuple[Path, str]],
    write_cache: bool,
    resume: bool = False,
) -> dict[str, Timings]:
    engines = {name: OcrEngine(threads=1, params=CONFIGS[name]) for name in names}
    caches = {name: cache_for(CONFIGS[name]) for name in names}
    timings = {name: Timings() for name in names}
    first = load_document((receipts[0][0] / receipts[0][1]).read_bytes(), DocumentLimits())
    for engine in engines.values():  # loads the models: not part of any page's time
        if first.pages[0].image is not None:
            engine.read_sync(first.pages[0].image)
    turn = 0
    for data, file in receipts:
        if resume and all(cache_path(data, file, caches[name]).exists() for name in names):
            continue
        document = load_document((data / file).read_bytes(), DocumentLimits())
        pages: dict[str, list[Any]] = {name: [] for name in names}
        for page in document.pages:
            if page.image is None:
                continue
            for name in rotated(names, turn):
                cpu, wall = time.process_time(), time.perf_counter()
                lines = engines[name].read_sync(page.image)
                timings[name].cpu.append(time.process_time() - cpu)
                timings[name].wall.append(time.perf_counter() - wall)
                pages[name].append(lines_to_json(lines))
            turn += 1
        if write_cache:
            for name in names:
                out = cache_path(data, file, caches[name])
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps({"file": file, "pages": pages[name]}))
    return timings


def table(timings: Mapping[str, Timings]) -> str:
    base = next(iter(timings.values()))
    lines = [
        "| configuration | CPU s/page median | p90 | wall s/page median | p90 | CPU vs first |",
        "|---|---|---|---|---|---|",
    ]
    for name, t in timings.items():
        ratio = statistics.median(t.cpu) / statistics.median(base.cpu)
        lines.append(
            f"| {name} | {statistics.median(t.cpu):.2f} | {quantile(t.cpu, 0.9):.2f} | "
            f"{statistics.median(t.wall):.2f} | {quantile(t.wall, 0.9):.2f} | {ratio:.2f} |"
        )
    return "\n".join(lines)


def accuracy(names: Sequence[str], k: int = 5, seed: int = 13) -> str:
    """Per configuration, data set and field: receipts right with the shipped ranker (what
    `bench.accuracy` measures) and cross-validated (`bench.accuracy --cross-validate`)."""
    from bench.ranker_eval import apply, cross_validate, read
    from bench.ranker_training import L2, load_receipts
    from services.extractor.receipt_ranker import shipped_ranker

    ranker = shipped_ranker()
    if ranker is None:
        raise SystemExit("no shipped model: run python -m bench.train_receipt_ranker")
    l2 = float(ranker.meta.get("l2", L2))
    lines = [
        "| configuration | data set | ranker | " + " | ".join(FIELDS) + " |",
        "|---" * (len(FIELDS) + 3) + "|",
    ]
    for name in names:
        receipts = load_receipts(DATA_SETS, cache_for(CONFIGS[name]))
        runs = {
            "shipped": [read(receipt, ranker) for receipt in receipts],
            f"{k}-fold": apply(ranker, cross_validate(receipts, k, seed, l2)),
        }
        for data in DATA_SETS:
            for run, outcomes in runs.items():
                mine = [
                    o
                    for r, o in zip(receipts, outcomes, strict=True)
                    if r.name.startswith(data.name)
                ]
                cells = [f"{sum(o[f].right for o in mine)}/{len(mine)}" for f in FIELDS]
                lines.append(f"| {name} | {data.name} | {run} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def merged(files: Sequence[Path]) -> dict[str, Timings]:
    """The timings of several runs' JSON (e.g. the shards of one run) together."""
    out: dict[str, Timings] = {}
    for file in files:
        payload = json.loads(file.read_text())
        for name in payload["cpu"]:
            timings = out.setdefault(name, Timings())
            timings.cpu.extend(payload["cpu"][name])
            timings.wall.extend(payload["wall"][name])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS))
    parser.add_argument("--train-sample", type=int, default=40)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, help="only the first N receipts of the sample")
    parser.add_argument("--shard", default="1/1", help="I/N: the I-th of N slices of the pages")
    parser.add_argument("--no-cache", action="store_true", help="do not write the OCR output")
    parser.add_argument(
        "--resume", action="store_true", help="skip receipts every configuration has cached"
    )
    parser.add_argument("--accuracy", action="store_true", help="score the cached OCR output")
    parser.add_argument("--merge", type=Path, nargs="+", help="one table from runs' JSON files")
    args = parser.parse_args()
    if args.merge:
        timings = merged(args.merge)
        print(f"{len(next(iter(timings.values())).cpu)} pages")
        print(table(timings))
        return
    names = args.config or list(DEFAULT_CONFIGS)
    if args.accuracy:
        print(accuracy(names))
        return
    index, count = (int(part) for part in args.shard.split("/"))
    receipts = sample(args.train_sample, args.seed)[: args.limit][index - 1 :: count]
    started = time.perf_counter()
    timings = measure(names, receipts, not args.no_cache, args.resume)
    pages = len(next(iter(timings.values())).cpu)
    print(f"{pages} pages ({len(receipts)} receipts), shard {args.shard}, "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    print(table(timings))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"ocr-speed-{time.strftime('%Y%m%dT%H%M%S')}-{index}of{count}.json"
    out.write_text(
        json.dumps(
            {
                "receipts": [f"{data.name}/{file}" for data, file in receipts],
                "configs": {name: dict(CONFIGS[name]) for name in names},
                "cpu": {name: t.cpu for name, t in timings.items()},
                "wall": {name: t.wall for name, t in timings.items()},
            },
            indent=2,
            default=str,
        )
    )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
