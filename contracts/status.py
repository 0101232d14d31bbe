"""A task's status object: its record plus its last stored update. What `GET
/api/invoices/status/{task_id}` answers and what `task.completed` / `task.failed` webhooks carry.
"""

from __future__ import annotations

from typing import Any

from contracts import TaskRecord, TaskStatus, TaskUpdated, status_for

PENDING_MESSAGE = "Waiting for a worker"


def task_status(record: TaskRecord, last: TaskUpdated | None) -> dict[str, Any]:
    """`updated_at` is Unix epoch seconds, like an update's `timestamp`."""
    if last is None:
        return {
            "task_id": record.task_id,
            "filename": record.filename,
            "status": TaskStatus.PENDING.value,
            "stage": None,
            "progress": 0,
            "message": PENDING_MESSAGE,
            "result": None,
            "error": None,
            "updated_at": record.created_at.timestamp(),
        }
    outcome = last.model_dump(mode="json", include={"result", "error"})
    return {
        "task_id": record.task_id,
        "filename": record.filename,
        "status": status_for(last.type).value,
        "stage": last.stage.value,
        "progress": last.progress,
        "message": last.message,
        "result": outcome.get("result"),
        "error": outcome.get("error"),
        "updated_at": last.timestamp,
    }
