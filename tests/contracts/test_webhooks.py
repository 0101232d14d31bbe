"""Webhook ids and the body every delivery of an event POSTs."""

from __future__ import annotations

import datetime as dt
import json

from contracts.webhooks import WEBHOOK_EVENTS, delivery_id, event_body, event_id


def test_ids_are_derived_from_their_cause() -> None:
    assert event_id("task_1:complete") == event_id("task_1:complete")
    assert event_id("task_1:complete") != event_id("task_1:error")
    assert delivery_id("wh_1", "evt_1") != delivery_id("wh_2", "evt_1")
    assert event_id("x").startswith("evt_") and len(event_id("x")) == 36
    assert delivery_id("wh_1", "evt_1").startswith("whd_")


def test_the_body_has_the_four_fields_of_the_spec() -> None:
    at = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    body = event_body("evt_1", "task.completed", at, {"total": "193.00", "vendor": "Müller"})
    assert json.loads(body) == {
        "id": "evt_1",
        "type": "task.completed",
        "created_at": "2026-12-01T12:00:00+00:00",
        "data": {"total": "193.00", "vendor": "Müller"},
    }
    assert " " not in body.replace("Müller", "")


def test_the_events_are_those_of_the_spec() -> None:
    assert WEBHOOK_EVENTS == ("task.completed", "task.failed", "invoice.reviewed")
