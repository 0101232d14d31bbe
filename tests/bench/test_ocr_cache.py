"""The OCR cache: each receipt read once, lines and boxes kept exactly."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from bench.ocr_cache import CACHE, CACHES, build, cache_for, cache_path, load_pages, settings_key
from services.extractor.ocr import OcrEngine, OcrLine


class CountingEngine(OcrEngine):
    def __init__(self) -> None:
        super().__init__(threads=1)
        self.calls = 0

    def read_sync(self, image: Image.Image) -> list[OcrLine]:
        self.calls += 1
        return [OcrLine("TOTAL 6.35", (1.5, 2.0, 30.25, 12.0), 0.97)]


def test_a_receipt_is_read_once_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "receipts"
    (data / "images").mkdir(parents=True)
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buffer, "PNG")
    (data / "images" / "r.png").write_bytes(buffer.getvalue())
    (data / "truth.jsonl").write_text(json.dumps({"file": "images/r.png"}) + "\n")
    engine = CountingEngine()
    cache = tmp_path / "cache"

    assert build([data], 1, cache, engine) == 1
    assert build([data], 1, cache, engine) == 0  # cached: not read again

    assert engine.calls == 1
    assert cache_path(data, "images/r.png", cache).exists()
    [[line]] = load_pages(data, "images/r.png", cache)
    assert line == OcrLine("TOTAL 6.35", (1.5, 2.0, 30.25, 12.0), 0.97)


def test_other_settings_have_their_own_cache(tmp_path: Path) -> None:
    shipped = {"Global.log_level": "warning", "Det.limit_side_len": 736}
    other = {**shipped, "Det.limit_side_len": 960}

    assert settings_key(shipped) == settings_key(dict(reversed(shipped.items())))
    assert settings_key(shipped) != settings_key(other)
    folder = cache_for(other, tmp_path)
    assert folder != cache_for(shipped, tmp_path)
    assert json.loads((folder / "settings.json").read_text()) == other


def test_the_default_cache_is_the_one_of_the_engines_settings() -> None:
    assert CACHES / settings_key(OcrEngine().params) == CACHE
