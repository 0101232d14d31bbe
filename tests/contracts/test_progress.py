from __future__ import annotations

from contracts import STAGE_PROGRESS, Stage, TaskStatus, UpdateType, position, status_for

PIPELINE = [
    (5, Stage.FETCH, UpdateType.STAGE_START),
    (10, Stage.FETCH, UpdateType.STAGE_COMPLETE),
    (10, Stage.LLM_EXTRACTION, UpdateType.STAGE_START),
    (15, Stage.LLM_EXTRACTION, UpdateType.PROGRESS),
    (80, Stage.LLM_EXTRACTION, UpdateType.STAGE_COMPLETE),
    (80, Stage.VALIDATION, UpdateType.STAGE_START),
    (90, Stage.VALIDATION, UpdateType.STAGE_COMPLETE),
    (90, Stage.SAVE, UpdateType.STAGE_START),
    (95, Stage.SAVE, UpdateType.STAGE_COMPLETE),
    (100, Stage.COMPLETE, UpdateType.COMPLETE),
]


def test_pipeline_positions_strictly_increase() -> None:
    positions = [position(*update) for update in PIPELINE]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)


def test_stage_ranges_follow_the_spec() -> None:
    assert STAGE_PROGRESS[Stage.FETCH] == (5, 10)
    assert STAGE_PROGRESS[Stage.LLM_EXTRACTION] == (10, 80)
    assert STAGE_PROGRESS[Stage.VALIDATION] == (80, 90)
    assert STAGE_PROGRESS[Stage.SAVE] == (90, 95)
    assert STAGE_PROGRESS[Stage.COMPLETE] == (100, 100)


def test_status_from_the_last_update() -> None:
    assert status_for(None) is TaskStatus.PENDING
    assert status_for(UpdateType.STAGE_START) is TaskStatus.PROCESSING
    assert status_for(UpdateType.COMPLETE) is TaskStatus.COMPLETED
    assert status_for(UpdateType.ERROR) is TaskStatus.ERROR
