"""The OCR speed benchmark's arithmetic: quantiles, the rotating order, the receipt sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.ocr_speed import BASE, CONFIGS, Timings, merged, quantile, rotated, sample, table
from services.extractor.ocr import RAPIDOCR_PARAMS


def test_quantile_interpolates_between_ranks() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0]

    assert quantile(values, 0.5) == 3.0
    assert quantile(values, 0.9) == pytest.approx(4.6)
    assert quantile(values, 0.0) == 1.0 and quantile(values, 1.0) == 5.0
    assert quantile([2.5], 0.9) == 2.5


def test_each_configuration_goes_first_in_turn() -> None:
    names = ["a", "b", "c"]

    assert [rotated(names, turn) for turn in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_the_sample_is_all_of_dev_and_a_fixed_draw_of_train() -> None:
    try:
        first, again, other = sample(10, 13), sample(10, 13), sample(10, 14)
    except FileNotFoundError:
        pytest.skip("receipts data sets not found")

    assert first == again != other
    assert [data.name for data, _ in first].count("receipts-train") == 10
    assert len({file for data, file in first if data.name == "receipts-dev"}) == 60


def test_every_configuration_runs_on_one_thread_and_the_shipped_one_is_measured() -> None:
    assert CONFIGS["shipped"] == RAPIDOCR_PARAMS
    for params in CONFIGS.values():
        for key, value in BASE.items():
            assert params[key] == value


def test_shards_merge_into_one_set_of_timings(tmp_path: Path) -> None:
    for index, (cpu, wall) in enumerate([([1.0, 2.0], [1.5, 2.5]), ([3.0], [3.5])]):
        payload = {"cpu": {"a": cpu, "b": cpu}, "wall": {"a": wall, "b": wall}}
        (tmp_path / f"{index}.json").write_text(json.dumps(payload))

    timings = merged(sorted(tmp_path.glob("*.json")))

    assert timings["a"] == Timings([1.0, 2.0, 3.0], [1.5, 2.5, 3.5]) == timings["b"]
    assert "| a | 2.00 | 2.80 | 2.50 | 3.30 | 1.00 |" in table(timings)
