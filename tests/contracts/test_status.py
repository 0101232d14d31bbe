"""The status view of a task: record plus last stored update."""

from __future__ import annotations

import time

from contracts import (
    Invoice,
    ProcessingOptions,
    Stage,
    TaskRecord,
    TaskResult,
    TaskUpdated,
    UpdateType,
    Usage,
    ValidationReport,
    task_error,
)
from contracts.status import task_status

RECORD = TaskRecord(
    task_id="task_" + "a" * 32,
    filename="a.pdf",
    token_sha256="0" * 64,
    blob_url="http://x.test/a.pdf",
    options=ProcessingOptions(),
)
FIELDS = {
    "task_id", "filename", "status", "stage", "progress", "message", "result", "error", "updated_at"
}  # fmt: skip


def update(type_: UpdateType, stage: Stage, progress: int, **extra: object) -> TaskUpdated:
    return TaskUpdated(
        task_id=RECORD.task_id,
        type=type_,
        seq=1,
        progress=progress,
        stage=stage,
        message="m",
        timestamp=time.time(),
        **extra,  # type: ignore[arg-type]
    )


def test_without_updates_the_task_is_pending() -> None:
    status = task_status(RECORD, None)

    assert set(status) == FIELDS
    assert status["status"] == "pending"
    assert status["progress"] == 0
    assert status["stage"] is None
    assert status["updated_at"] == RECORD.created_at.timestamp()


def test_a_running_task_is_processing() -> None:
    last = update(UpdateType.STAGE_START, Stage.LLM_EXTRACTION, 10)

    status = task_status(RECORD, last)

    assert (status["status"], status["stage"], status["progress"]) == (
        "processing",
        "llm_extraction",
        10,
    )
    assert status["updated_at"] == last.timestamp


def test_a_completed_task_carries_its_result_as_json() -> None:
    result = TaskResult(
        invoice=Invoice.model_validate({"total": "193.00"}),
        confidence={"total": 0.9},
        validation=ValidationReport(status="valid"),
        saved=True,
        invoice_id="inv_1",
        duplicate_of=None,
        provider="local",
        usage=Usage(),
    )

    status = task_status(RECORD, update(UpdateType.COMPLETE, Stage.COMPLETE, 100, result=result))

    assert status["status"] == "completed"
    assert status["result"]["invoice"]["total"] == "193.00"
    assert status["error"] is None


def test_a_failed_task_carries_its_error() -> None:
    error = task_error("provider_refused", "no")

    status = task_status(RECORD, update(UpdateType.ERROR, Stage.LLM_EXTRACTION, 10, error=error))

    assert status["status"] == "error"
    assert status["error"] == {"code": "provider_refused", "message": "no"}
