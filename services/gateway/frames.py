"""WebSocket frames: text JSON `{"event": ..., "data": {...}}` (spec section 2)."""

from __future__ import annotations

import functools
import json
import struct
from collections.abc import Mapping
from typing import Any

_FIN_TEXT = 0x81  # RFC 6455 5.2: a final frame, opcode 1 (text)


class SharedFrame(str):
    """A frame's text that goes to many sockets (a task's update to each follower): its bytes
    on the wire are made once, when first written, not once per socket."""

    @functools.cached_property
    def wire(self) -> bytes:
        return websocket_text(self)


def encode(event: str, data: Mapping[str, Any]) -> str:
    return json.dumps({"event": event, "data": data}, separators=(",", ":"))


def task_update(stored_json: str) -> SharedFrame:
    """A `task_update` frame around a stored `TaskUpdated`, forwarded as is (not re-encoded)."""
    return SharedFrame('{"event":"task_update","data":' + stored_json + "}")


def error(code: str, message: str) -> str:
    return encode("error", {"code": code, "message": message})


def wire(frame: str) -> bytes:
    """The frame as a server sends it on a socket without compression (the gateway's)."""
    return frame.wire if isinstance(frame, SharedFrame) else websocket_text(frame)


def websocket_text(text: str) -> bytes:
    """One unfragmented, unmasked text frame (RFC 6455 5.2: server frames are not masked)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((_FIN_TEXT, size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", _FIN_TEXT, 126, size)
    else:
        header = struct.pack("!BBQ", _FIN_TEXT, 127, size)
    return header + payload
