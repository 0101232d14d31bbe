"""The per-socket send queue: ordered, never blocks the producer, overflows into a close."""

from __future__ import annotations

import asyncio

from services.gateway import frames
from services.gateway.outbox import Outbox


async def test_frames_are_written_in_order() -> None:
    outbox = Outbox(limit=10)
    written: list[str] = []
    all_written = asyncio.Event()

    async def write(frame: str) -> None:
        written.append(frame)
        if len(written) == 3:
            all_written.set()

    pump = asyncio.create_task(outbox.pump(write))
    for frame in ("a", "b", "c"):
        assert outbox.send(frame)
    await asyncio.wait_for(all_written.wait(), 5)
    outbox.close()
    await asyncio.wait_for(pump, 5)

    assert written == ["a", "b", "c"]


async def test_a_client_that_falls_behind_overflows_and_closes() -> None:
    outbox = Outbox(limit=2)
    writing, stuck = asyncio.Event(), asyncio.Event()

    async def write(frame: str) -> None:
        writing.set()
        await stuck.wait()  # a client that reads nothing

    pump = asyncio.create_task(outbox.pump(write))
    assert outbox.send("a")
    await asyncio.wait_for(writing.wait(), 5)  # the pump holds "a", blocked on the client
    assert outbox.send("b")
    assert outbox.send("c")
    assert not outbox.send("d")  # a third waiting frame: too far behind

    assert outbox.overflowed
    assert outbox.closed
    assert len(outbox) == 0
    assert not outbox.send("e")
    pump.cancel()


async def test_a_closed_outbox_refuses_frames_without_overflowing() -> None:
    outbox = Outbox(limit=5)
    outbox.close()

    assert not outbox.send("a")
    assert not outbox.overflowed


# --- attach mode: a writing task only while frames wait ----------------------------------


async def test_an_attached_outbox_writes_in_order_and_holds_no_task_when_idle() -> None:
    outbox = Outbox(limit=10)
    written: list[str] = []
    three = asyncio.Event()

    async def write(frame: str) -> None:
        await asyncio.sleep(0)  # a real write may yield
        written.append(frame)
        if len(written) == 3:
            three.set()

    outbox.send("a")  # queued before attaching: written once attached
    outbox.attach(write, on_close=lambda: None)
    outbox.send("b")
    outbox.send("c")
    await asyncio.wait_for(three.wait(), 5)
    for _ in range(3):
        await asyncio.sleep(0)  # let the writing task return

    assert written == ["a", "b", "c"]
    assert not outbox.writing and len(outbox) == 0  # idle: nothing held
    await outbox.detach()


async def test_an_attached_outbox_that_overflows_closes_and_says_so_once() -> None:
    outbox = Outbox(limit=2)
    writing, stuck = asyncio.Event(), asyncio.Event()
    closes: list[bool] = []

    async def write(frame: str) -> None:
        writing.set()
        await stuck.wait()  # a client that reads nothing

    outbox.attach(write, on_close=lambda: closes.append(True))
    assert outbox.send("a")
    await asyncio.wait_for(writing.wait(), 5)
    assert outbox.send("b")
    assert outbox.send("c")
    assert not outbox.send("d")

    assert outbox.overflowed and outbox.closed
    assert closes == [True]
    await outbox.detach()
    assert closes == [True]


async def test_a_failed_write_closes_the_attached_outbox() -> None:
    outbox = Outbox(limit=5)
    closed = asyncio.Event()

    async def write(frame: str) -> None:
        raise ConnectionResetError("the client is gone")

    outbox.attach(write, on_close=closed.set)
    outbox.send("a")
    await asyncio.wait_for(closed.wait(), 5)

    assert outbox.closed and not outbox.overflowed
    assert not outbox.send("b")


async def test_detach_does_not_call_on_close() -> None:
    outbox = Outbox(limit=5)
    closes: list[bool] = []

    async def write(frame: str) -> None:
        return None

    outbox.attach(write, on_close=lambda: closes.append(True))
    await outbox.detach()

    assert outbox.closed
    assert closes == []


# --- attach mode with `write_now`: frames written at once while none waits ----------------


async def test_a_frame_sent_while_none_waits_is_written_at_once_as_bytes() -> None:
    outbox = Outbox(limit=10)
    now: list[bytes] = []

    async def write(frame: str) -> None:
        raise AssertionError("nothing should wait")

    def write_now(wire: bytes) -> bool:
        now.append(wire)
        return True

    outbox.attach(write, on_close=lambda: None, write_now=write_now)
    assert outbox.send(frames.task_update('{"seq":1}'))
    assert outbox.send("b")

    assert now == [frames.wire(frames.task_update('{"seq":1}')), frames.websocket_text("b")]
    assert not outbox.writing and len(outbox) == 0
    await outbox.detach()


async def test_once_a_frame_waits_the_later_ones_queue_behind_it() -> None:
    outbox = Outbox(limit=10)
    full = True  # the socket's buffer is full: nothing can be written at once
    now: list[bytes] = []
    written: list[str] = []
    release, done = asyncio.Event(), asyncio.Event()

    def write_now(wire: bytes) -> bool:
        if full:
            return False
        now.append(wire)
        return True

    async def write(frame: str) -> None:
        await release.wait()  # the buffer drains
        written.append(frame)
        if len(written) == 2:
            done.set()

    outbox.attach(write, on_close=lambda: None, write_now=write_now)
    assert outbox.send("a")  # refused at once: waits
    await asyncio.sleep(0)  # the writing task takes "a" and waits for the buffer to drain
    full = False
    assert outbox.send("b")  # could be written, but "a" is being written: queued behind it
    assert len(outbox) == 1 and now == []
    release.set()
    await asyncio.wait_for(done.wait(), 5)
    for _ in range(3):
        await asyncio.sleep(0)  # let the writing task return

    assert written == ["a", "b"] and now == []
    assert outbox.send("c")  # none waits again: at once
    assert now == [frames.websocket_text("c")]
    await outbox.detach()
