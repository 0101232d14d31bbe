"""Waiting on JetStream without sleeping: subscriptions and fetches with deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext

from contracts import TaskUpdated
from contracts.names import PROGRESS_STREAM, progress_subject
from contracts.progress import TERMINAL_TYPES


async def updates_until_terminal(
    js: JetStreamContext, task_id: str, timeout: float = 20.0
) -> list[TaskUpdated]:
    """Every stored and live update of a task, up to and including its `complete` or `error`."""
    sub = await js.subscribe(
        progress_subject(task_id), stream=PROGRESS_STREAM, ordered_consumer=True
    )
    updates: list[TaskUpdated] = []
    try:
        async with asyncio.timeout(timeout):
            while not updates or updates[-1].type not in TERMINAL_TYPES:
                msg = await sub.next_msg(timeout=None)
                updates.append(TaskUpdated.model_validate_json(msg.data))
    finally:
        await sub.unsubscribe()
    return updates


async def wait_until(
    condition: Callable[[], Awaitable[bool]], timeout: float = 20.0, interval: float = 0.05
) -> None:
    """Poll a server-side condition (e.g. a consumer's pending count) until it holds."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(interval)
