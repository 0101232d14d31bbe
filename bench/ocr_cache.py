"""OCR each receipt of a data set once, with the extractor's own engine and settings, and keep
the lines and boxes as JSON, so that training and measuring the receipt ranker rerun in seconds.

    python -m bench.ocr_cache [--data DIR ...] [--threads 2]

Files go to `.data/ocr-cache/<settings>/<data set>/<image>.json` (gitignored), where <settings> is
a digest of the rapidocr version and the engine's settings (`RAPIDOCR_PARAMS`), so a change of
either reads every receipt anew instead of serving the old OCR. A receipt already cached is not
read again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from services.extractor.documents import load_document
from services.extractor.ocr import RAPIDOCR_PARAMS, Box, OcrEngine, OcrLine
from services.pages.render import DocumentLimits

ROOT = Path(__file__).resolve().parents[1]
CACHES = ROOT / ".data" / "ocr-cache"
SHARED = ROOT.parent / "shared" / "data"
DATA_SETS = (SHARED / "receipts-dev", SHARED / "receipts-train")


def settings_key(params: Mapping[str, Any]) -> str:
    """A digest of what decides the OCR output: rapidocr's version and the engine's settings."""
    from importlib.metadata import version

    described = json.dumps(
        {"rapidocr": version("rapidocr"), "params": params}, sort_keys=True, default=str
    )
    return hashlib.sha256(described.encode()).hexdigest()[:12]


def cache_for(params: Mapping[str, Any], root: Path = CACHES) -> Path:
    """The cache folder of OCR read with `params`; it names them in settings.json."""
    folder = root / settings_key(params)
    if not (folder / "settings.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "settings.json").write_text(
            json.dumps(params, indent=2, sort_keys=True, default=str)
        )
    return folder


CACHE = CACHES / settings_key(RAPIDOCR_PARAMS)


def cache_path(data: Path, file: str, cache: Path = CACHE) -> Path:
    return cache / data.name / f"{Path(file).name}.json"


def lines_to_json(lines: Sequence[OcrLine]) -> list[dict[str, Any]]:
    return [{"text": line.text, "box": list(line.box), "score": line.score} for line in lines]


def lines_from_json(items: Sequence[dict[str, Any]]) -> list[OcrLine]:
    return [OcrLine(str(item["text"]), _box(item["box"]), float(item["score"])) for item in items]


def _box(values: Sequence[float]) -> Box:
    left, top, right, bottom = (float(v) for v in values)
    return (left, top, right, bottom)


def load_pages(data: Path, file: str, cache: Path = CACHE) -> list[list[OcrLine]]:
    """The cached OCR lines of each page of one receipt."""
    payload = json.loads(cache_path(data, file, cache).read_text())
    return [lines_from_json(page) for page in payload["pages"]]


def truths(data: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (data / "truth.jsonl").read_text().splitlines() if line]


def ocr_one(engine: OcrEngine, data: Path, file: str, cache: Path = CACHE) -> bool:
    """OCR one receipt as the `local` provider does (decoded by `load_document`); False when
    it was cached already."""
    out = cache_path(data, file, cache)
    if out.exists():
        return False
    document = load_document((data / file).read_bytes(), DocumentLimits())
    pages = [
        lines_to_json(engine.read_sync(page.image)) if page.image is not None else []
        for page in document.pages
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"file": file, "pages": pages}))
    tmp.replace(out)
    return True


def build(
    data_sets: Sequence[Path],
    threads: int,
    cache: Path | None = None,
    engine: OcrEngine | None = None,
) -> int:
    engine = engine or OcrEngine(threads=threads)
    cache = cache or cache_for(engine.params)
    jobs = [(data, truth["file"]) for data in data_sets for truth in truths(data)]
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        done = sum(pool.map(lambda job: ocr_one(engine, job[0], job[1], cache), jobs))
    print(f"{done} receipts read, {len(jobs) - done} cached already, "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, action="append", help="default: dev and train")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    build(args.data or DATA_SETS, args.threads)


if __name__ == "__main__":
    main()
