"""Offline OCR with rapidocr (PP-OCR models bundled in its wheel; default settings, so nothing is
downloaded at run time). One engine per process, created on first use; each run takes seconds
of CPU, so at most `threads` run at once: in the decode pool's processes where one is given
(the models then load only there, never in the service's own process), else in threads."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from contracts import ErrorCode
from services.pages.decode_pool import Runner
from services.worker.errors import PermanentError

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class OcrLine:
    """One detected line of text; `box` is (left, top, right, bottom) in image pixels."""

    text: str
    box: Box
    score: float

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def center_y(self) -> float:
        return (self.box[1] + self.box[3]) / 2


# rapidocr's settings (names as in its config.yaml), on top of its defaults. The log level: it
# logs every model load at INFO. One onnxruntime thread per run: runs go in parallel up to
# `threads`, and several multi-threaded runs on few cores only fight over them.
RAPIDOCR_PARAMS: Mapping[str, Any] = {
    "Global.log_level": "warning",
    "EngineConfig.onnxruntime.intra_op_num_threads": 1,
    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
}


class OcrEngine:
    def __init__(
        self,
        threads: int = 2,
        runner: Runner | None = None,
        params: Mapping[str, Any] = RAPIDOCR_PARAMS,
    ) -> None:
        self._threads = threads
        self._runner = runner
        self.params: Mapping[str, Any] = dict(params)
        self._semaphore: asyncio.Semaphore | None = None
        self._engine: Any = None
        self._engine_lock = threading.Lock()

    async def read(self, image: Image.Image) -> list[OcrLine]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._threads)
        async with self._semaphore:
            if self._runner is not None:
                return await self._runner.run(read_in_this_process, image)
            return await asyncio.to_thread(self.read_sync, image)

    def read_sync(self, image: Image.Image) -> list[OcrLine]:
        engine = self._get_engine()
        try:
            # A PIL image, not an array: rapidocr takes arrays as BGR.
            result = engine(image if image.mode == "RGB" else image.convert("RGB"))
        except Exception as exc:  # rapidocr raises assorted errors on odd inputs
            log.exception("OCR failed")
            raise PermanentError(ErrorCode.OCR_FAILED, "OCR could not read this page") from exc
        if result.boxes is None or result.txts is None or result.scores is None:
            return []
        return [
            OcrLine(text=str(text).strip(), box=_bounds(points), score=float(score))
            for points, text, score in zip(result.boxes, result.txts, result.scores, strict=True)
            if str(text).strip()
        ]

    def _get_engine(self) -> Any:
        with self._engine_lock:
            if self._engine is None:
                from rapidocr import RapidOCR  # imported late: loading onnxruntime takes a while

                if "EngineConfig.openvino.inference_precision_hint" in self.params:
                    _pass_openvino_precision()
                self._engine = RapidOCR(params=dict(self.params))
            return self._engine


_ENGINE = OcrEngine()
_PRECISION_KEY = "inference_precision_hint"


def _pass_openvino_precision() -> None:
    """rapidocr gives OpenVINO no inference precision, and OpenVINO then runs in bf16 on CPUs
    that have it: other text than in fp32 (measured on the receipts), and other text on other
    CPUs. This passes `EngineConfig.openvino.inference_precision_hint` on as OpenVINO's
    INFERENCE_PRECISION_HINT."""
    from rapidocr.inference_engine.openvino.device_config import CPUConfig

    if getattr(CPUConfig, "_passes_precision", False):
        return
    plain = CPUConfig.get_config

    def get_config(self: CPUConfig) -> dict[str, Any]:
        config: dict[str, Any] = plain(self)
        hint = self.cfg.get(_PRECISION_KEY)
        if hint is not None:
            config["INFERENCE_PRECISION_HINT"] = str(hint)
        return config

    CPUConfig.get_config = get_config  # type: ignore[method-assign]
    CPUConfig._passes_precision = True  # type: ignore[attr-defined]


def read_in_this_process(image: Image.Image) -> list[OcrLine]:
    """A job for the decode pool: OCR with the engine of the process that runs it."""
    return _ENGINE.read_sync(image)


def _bounds(points: Any) -> Box:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return (min(xs), min(ys), max(xs), max(ys))
