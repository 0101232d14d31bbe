"""The per-socket send queue: ordered, never blocks the producer, overflows into a close."""

from __future__ import annotations

import asyncio

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
