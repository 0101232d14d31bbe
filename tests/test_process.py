"""`start_unless_stopped`: a start runs to its end unless a stop comes first, which cancels it."""

from __future__ import annotations

import asyncio

import pytest

from services.process import StoppedWhileStarting, start_unless_stopped


async def test_a_start_that_finishes_first_gives_its_result() -> None:
    async def start() -> str:
        return "started"

    assert await start_unless_stopped(start(), asyncio.Event()) == "started"


async def test_a_stop_first_cancels_the_start_and_says_so() -> None:
    entered, cancelled = asyncio.Event(), asyncio.Event()

    async def start() -> str:
        entered.set()
        try:
            await asyncio.Event().wait()  # waits for a dependency that never answers
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    stop = asyncio.Event()
    starting = asyncio.create_task(start_unless_stopped(start(), stop))
    await asyncio.wait_for(entered.wait(), 5)
    stop.set()
    with pytest.raises(StoppedWhileStarting):
        await asyncio.wait_for(starting, 5)
    assert cancelled.is_set()  # and it had ended before the stop was reported


async def test_a_failed_start_raises_its_own_error() -> None:
    async def start() -> str:
        raise ValueError("replicas > 1 not supported")

    with pytest.raises(ValueError, match="replicas"):
        await start_unless_stopped(start(), asyncio.Event())
