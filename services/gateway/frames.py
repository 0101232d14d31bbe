"""WebSocket frames: text JSON `{"event": ..., "data": {...}}` (spec section 2)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def encode(event: str, data: Mapping[str, Any]) -> str:
    return json.dumps({"event": event, "data": data}, separators=(",", ":"))


def task_update(stored_json: str) -> str:
    """A `task_update` frame around a stored `TaskUpdated`, forwarded as is (not re-encoded)."""
    return '{"event":"task_update","data":' + stored_json + "}"


def error(code: str, message: str) -> str:
    return encode("error", {"code": code, "message": message})
