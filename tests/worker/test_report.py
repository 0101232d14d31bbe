"""`StageReporter`: a stage's updates at the table's progress, over the real progress log."""

from __future__ import annotations

import pytest

from contracts import Stage
from contracts.pipeline import EXTRACT
from services.messaging.progress_log import ProgressLog
from services.worker.report import StageReporter
from tests.support.progress import MemoryProgressStore

TASK = "task_" + "1" * 32


def reporter() -> tuple[StageReporter, MemoryProgressStore]:
    store = MemoryProgressStore()
    return StageReporter(EXTRACT, ProgressLog(store, TASK)), store


async def test_a_stage_starts_and_completes_at_the_tables_progress() -> None:
    report, store = reporter()

    async with report.stage(Stage.LLM_EXTRACTION, "Extracting") as stage:
        await stage.progress(5, "too low")
        await stage.progress(50, "half way")
        stage.done("Extracted")

    assert store.seen() == [
        ("stage_start", "llm_extraction", 10),
        ("progress", "llm_extraction", 11),
        ("progress", "llm_extraction", 50),
        ("stage_complete", "llm_extraction", 80),
    ]
    assert [u.message for u in store.updates()] == [
        "Extracting",
        "too low",
        "half way",
        "Extracted",
    ]


async def test_a_stage_that_fails_is_not_completed() -> None:
    report, store = reporter()

    with pytest.raises(RuntimeError):
        async with report.stage(Stage.FETCH, "Fetching"):
            raise RuntimeError("broken document")

    assert store.seen() == [("stage_start", "fetch", 5)]


async def test_a_stage_of_another_step_is_refused_before_anything_is_stored() -> None:
    report, store = reporter()

    with pytest.raises(ValueError, match="does not report"):
        async with report.stage(Stage.SAVE, "Saving"):
            pass

    assert store.seen() == []
