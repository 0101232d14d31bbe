"""The rapidocr wrapper: one real OCR run (seconds), and its concurrency bound (no OCR)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from services.extractor.documents import load_document
from services.extractor.ocr import _PRECISION_KEY, OcrEngine, OcrLine, _pass_openvino_precision
from services.pages.render import DocumentLimits


async def test_reads_a_real_receipt_with_boxes_and_scores(receipts_dev: Path) -> None:
    data = (receipts_dev / "images" / "receipt-001.jpg").read_bytes()
    image = load_document(data, DocumentLimits()).pages[0].image
    assert image is not None

    lines = await OcrEngine(threads=1).read(image)

    texts = [line.text for line in lines]
    assert any("UNIHAKKA" in text for text in texts)
    assert any("8.20" in text for text in texts)
    width, height = image.size
    for line in lines:
        left, top, right, bottom = line.box
        assert 0 <= left < right <= width + 1 and 0 <= top < bottom <= height + 1
        assert 0.0 < line.score <= 1.0 and line.text == line.text.strip()


async def test_blank_image_has_no_lines() -> None:
    assert await OcrEngine().read(Image.new("RGB", (200, 100), "white")) == []


class CountingEngine(OcrEngine):
    """Stands in for OCR: records how many runs overlap."""

    def __init__(self, threads: int) -> None:
        super().__init__(threads)
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def read_sync(self, image: Image.Image) -> list[OcrLine]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)  # CPU-bound work stand-in, in the worker thread
        with self.lock:
            self.running -= 1
        return []


async def test_at_most_the_configured_number_of_runs_at_once() -> None:
    engine = CountingEngine(threads=2)
    image = Image.new("RGB", (10, 10))

    await asyncio.gather(*(engine.read(image) for _ in range(6)))

    assert engine.most == 2


async def test_runs_do_not_block_the_event_loop() -> None:
    engine = CountingEngine(threads=1)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    try:
        await engine.read(Image.new("RGB", (10, 10)))
    finally:
        task.cancel()
    assert ticks >= 3


async def test_boxes_are_in_the_pages_pixels_whatever_size_detection_ran_at(
    receipts_dev: Path,
) -> None:
    # Detection runs on a downscaled copy of a large page; its boxes must come back in the
    # page's own pixels, which the evidence geometry is drawn in.
    data = (receipts_dev / "images" / "receipt-001.jpg").read_bytes()
    image = load_document(data, DocumentLimits()).pages[0].image
    assert image is not None
    large = image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC)
    engine = OcrEngine(threads=1)

    small_lines, large_lines = await engine.read(image), await engine.read(large)

    def vendor_box(lines: list[OcrLine]) -> tuple[float, float, float, float]:
        return next(line.box for line in lines if "UNIHAKKA" in line.text)

    small, big = vendor_box(small_lines), vendor_box(large_lines)
    for at_size, at_double in zip(small, big, strict=True):
        assert abs(at_double - 2 * at_size) <= 0.01 * large.width  # measured: within 4 px


def test_the_openvino_precision_setting_reaches_openvino() -> None:
    pytest.importorskip("openvino")  # not a dependency (yet): docs/benchmarks.md, OCR speed
    from omegaconf import OmegaConf
    from rapidocr.inference_engine.openvino.device_config import CPUConfig

    _pass_openvino_precision()
    _pass_openvino_precision()  # idempotent: wrapped once

    config = CPUConfig(OmegaConf.create({"inference_num_threads": 1, _PRECISION_KEY: "f32"}))
    assert config.get_config() == {"INFERENCE_NUM_THREADS": "1", "INFERENCE_PRECISION_HINT": "f32"}
    assert "INFERENCE_PRECISION_HINT" not in CPUConfig(OmegaConf.create({})).get_config()
