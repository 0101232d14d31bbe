"""Stages, update types and the order of a task's progress updates (spec sections 2 and 3)."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    FETCH = "fetch"
    LLM_EXTRACTION = "llm_extraction"
    VALIDATION = "validation"
    SAVE = "save"
    COMPLETE = "complete"


class UpdateType(StrEnum):
    STAGE_START = "stage_start"
    PROGRESS = "progress"
    STAGE_COMPLETE = "stage_complete"
    ERROR = "error"
    COMPLETE = "complete"


class TaskStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    ERROR = "error"


# Where each stage sits in the pipeline and its progress numbers: contracts/pipeline.py.
_STAGE_ORDER = {stage: index for index, stage in enumerate(Stage)}
_TYPE_ORDER = {
    UpdateType.STAGE_START: 0,
    UpdateType.PROGRESS: 1,
    UpdateType.STAGE_COMPLETE: 2,
    UpdateType.COMPLETE: 3,
    UpdateType.ERROR: 4,
}

TERMINAL_TYPES = frozenset({UpdateType.COMPLETE, UpdateType.ERROR})

Position = tuple[int, int, int]


def position(progress: int, stage: Stage, type_: UpdateType) -> Position:
    """Where an update sits in the pipeline's total order.

    A redelivered stage re-emits updates it already emitted; the progress log skips every
    update whose position is not after the last stored one, so `seq` stays contiguous and
    `progress` never goes backwards.
    """
    return (progress, _STAGE_ORDER[stage], _TYPE_ORDER[type_])


def status_for(last_type: UpdateType | None) -> TaskStatus:
    if last_type is None:
        return TaskStatus.PENDING
    if last_type is UpdateType.COMPLETE:
        return TaskStatus.COMPLETED
    if last_type is UpdateType.ERROR:
        return TaskStatus.ERROR
    return TaskStatus.PROCESSING
