"""WebSocket frames."""

from __future__ import annotations

import json

from services.gateway import frames


def test_events_are_compact_json_objects() -> None:
    assert json.loads(frames.encode("joined_task", {"task_id": "t"})) == {
        "event": "joined_task",
        "data": {"task_id": "t"},
    }
    assert json.loads(frames.error("bad_frame", "no")) == {
        "event": "error",
        "data": {"code": "bad_frame", "message": "no"},
    }


def test_a_task_update_forwards_the_stored_json_unchanged() -> None:
    stored = '{"seq":1,"extra":"kept","result":null}'

    frame = frames.task_update(stored)

    assert json.loads(frame) == {"event": "task_update", "data": json.loads(stored)}
    assert frame.endswith(stored + "}")
