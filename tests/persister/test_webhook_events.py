"""Task endings and reviews as deliveries: only to the tenant's registrations for the event,
with ids that are the same however often the event is seen."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from contracts import ProcessingOptions, Stage, TaskRecord, TaskUpdated, UpdateType, task_error
from contracts.status import task_status
from contracts.webhooks import delivery_id, event_id
from services.persister.webhook_events import review_deliveries, task_deliveries, terminal_event
from services.persister.webhook_store import Registration

TASK = "task_" + "a" * 32
RECORD = TaskRecord(
    task_id=TASK,
    tenant="acme",
    filename="a.pdf",
    token_sha256="0" * 64,
    blob_url="http://x.test/a.pdf",
    options=ProcessingOptions(),
)
ALL = frozenset({"task.completed", "task.failed", "invoice.reviewed"})


def update(type_: UpdateType, message: str = "done") -> TaskUpdated:
    return TaskUpdated(
        task_id=TASK,
        type=type_,
        seq=7,
        progress=100 if type_ is UpdateType.COMPLETE else 40,
        stage=Stage.COMPLETE if type_ is UpdateType.COMPLETE else Stage.LLM_EXTRACTION,
        message=message,
        timestamp=1_764_000_000.5,
        error=task_error("invalid_document", "unreadable") if type_ is UpdateType.ERROR else None,
    )


@pytest.mark.parametrize(
    ("type_", "event"),
    [
        (UpdateType.COMPLETE, "task.completed"),
        (UpdateType.ERROR, "task.failed"),
        (UpdateType.PROGRESS, None),
        (UpdateType.STAGE_START, None),
        (UpdateType.STAGE_COMPLETE, None),
    ],
)
def test_terminal_updates_are_told_from_their_bytes(type_: UpdateType, event: str | None) -> None:
    assert terminal_event(update(type_).model_dump_json().encode()) == event


def test_a_message_quoting_a_terminal_type_is_not_one() -> None:
    quoted = update(UpdateType.PROGRESS, message='"type":"complete"')
    assert terminal_event(quoted.model_dump_json().encode()) is None


def test_only_the_tenants_registrations_for_the_event_get_it() -> None:
    registrations = [
        Registration("wh_1", "acme", ALL),
        Registration("wh_2", "acme", frozenset({"task.failed"})),
        Registration("wh_3", "other", ALL),
    ]
    completed = update(UpdateType.COMPLETE)
    [delivery] = task_deliveries(registrations, RECORD, completed)
    assert (delivery.webhook_id, delivery.tenant, delivery.type) == (
        "wh_1",
        "acme",
        "task.completed",
    )
    failed = task_deliveries(registrations, RECORD, update(UpdateType.ERROR))
    assert [d.webhook_id for d in failed] == ["wh_1", "wh_2"]
    assert task_deliveries(registrations, RECORD, update(UpdateType.PROGRESS)) == []


def test_a_task_event_carries_the_status_object_and_stable_ids() -> None:
    registrations = [Registration("wh_1", "acme", ALL)]
    completed = update(UpdateType.COMPLETE)
    [first] = task_deliveries(registrations, RECORD, completed)
    [again] = task_deliveries(registrations, RECORD, completed)
    assert first == again
    assert first.event_id == event_id(f"{TASK}:complete")
    assert first.delivery_id == delivery_id("wh_1", first.event_id)
    body = json.loads(first.body)
    assert body == {
        "id": first.event_id,
        "type": "task.completed",
        "created_at": dt.datetime.fromtimestamp(completed.timestamp, dt.UTC).isoformat(),
        "data": task_status(RECORD, completed),
    }


def test_an_open_deployments_tenant_is_the_empty_one() -> None:
    record = RECORD.model_copy(update={"tenant": None})
    registrations = [Registration("wh_1", "", ALL)]
    assert len(task_deliveries(registrations, record, update(UpdateType.COMPLETE))) == 1


def test_a_review_event_is_the_saved_invoice_named_by_its_last_review() -> None:
    saved = {
        "invoice_id": "inv_1",
        "status": "approved",
        "reviews": [
            {"review_id": "rev_1", "created_at": "2026-12-01T10:00:00+00:00"},
            {"review_id": "rev_2", "created_at": "2026-12-01T11:00:00+00:00"},
        ],
    }
    registrations = [Registration("wh_1", "acme", ALL), Registration("wh_3", "other", ALL)]
    [delivery] = review_deliveries(registrations, "acme", saved)
    assert delivery.event_id == event_id("rev_2") and delivery.type == "invoice.reviewed"
    body = json.loads(delivery.body)
    assert body["data"] == saved and body["created_at"] == "2026-12-01T11:00:00+00:00"
    assert review_deliveries(registrations, "acme", {"reviews": []}) == []


def test_a_swept_review_is_named_by_its_id() -> None:
    saved = {
        "reviews": [
            {"review_id": "rev_1", "created_at": "2026-12-01T10:00:00+00:00"},
            {"review_id": "rev_2", "created_at": "2026-12-01T11:00:00+00:00"},
        ]
    }
    registrations = [Registration("wh_1", "acme", ALL)]
    [delivery] = review_deliveries(registrations, "acme", saved, "rev_1")
    assert delivery.event_id == event_id("rev_1")
    assert json.loads(delivery.body)["created_at"] == "2026-12-01T10:00:00+00:00"
    assert review_deliveries(registrations, "acme", saved, "rev_9") == []
