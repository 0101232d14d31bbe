"""bench.socket_writes writes real frames that its reader receives in full."""

from __future__ import annotations

import argparse

import uvloop

from bench.socket_writes import measure
from services.gateway.frames import websocket_text


def test_every_frame_written_is_read_and_timed_per_repeat() -> None:
    args = argparse.Namespace(sockets=3, frames=2, size=200, repeat=2)
    measured = uvloop.run(measure(args))
    assert len(measured.per_write) == 2
    assert measured.bytes_written == 2 * 2 * 3 * len(websocket_text("x" * 200))
    assert measured.bytes_read == measured.bytes_written
