"""WebSocket frames."""

from __future__ import annotations

import json

import pytest
from websockets.frames import Frame, Opcode

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


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_a_text_frame_is_framed_as_the_websockets_library_frames_it(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)  # two bytes a character: sizes on the bounds
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])

    assert frames.websocket_text(text) == expected


def test_a_shared_frame_is_framed_once_however_many_sockets_it_goes_to() -> None:
    frame = frames.task_update('{"seq":1}')

    assert frames.wire(frame) is frames.wire(frame)
    assert frames.wire(frame) == frames.websocket_text(frame)
