"""The progress log against a real nats-server: contiguous seq, no duplicates, monotonic."""

from __future__ import annotations

import asyncio
import uuid

from nats.js import JetStreamContext

from contracts import ProgressMark, Stage, TaskUpdated, UpdateType, task_error
from services.messaging.jetstream import declare_pipeline_streams
from services.messaging.progress_stream import progress_log, read_history, read_last


def new_task_id() -> str:
    return f"task_{uuid.uuid4().hex}"


async def history(js: JetStreamContext, task_id: str) -> list[TaskUpdated]:
    return [update for _, update in await read_history(js, task_id)]


async def test_appends_number_updates_from_one(js: JetStreamContext) -> None:
    await declare_pipeline_streams(js, 24)
    task_id = new_task_id()
    log = progress_log(js, task_id)

    await log.append(UpdateType.STAGE_START, Stage.FETCH, 5, "Fetching")
    await log.append(UpdateType.STAGE_COMPLETE, Stage.FETCH, 10, "Fetched")

    updates = await history(js, task_id)
    assert [(u.seq, u.type, u.progress) for u in updates] == [
        (1, UpdateType.STAGE_START, 5),
        (2, UpdateType.STAGE_COMPLETE, 10),
    ]
    last = await read_last(js, task_id)
    assert last is not None and last[1].seq == 2


async def test_redelivered_stage_does_not_repeat_or_go_backwards(js: JetStreamContext) -> None:
    await declare_pipeline_streams(js, 24)
    task_id = new_task_id()
    first = progress_log(js, task_id)
    await first.append(UpdateType.STAGE_START, Stage.FETCH, 5, "Fetching")
    await first.append(UpdateType.STAGE_COMPLETE, Stage.FETCH, 10, "Fetched")
    await first.append(UpdateType.STAGE_START, Stage.LLM_EXTRACTION, 10, "Extracting")

    # A second delivery of the same work starts over from the beginning.
    again = progress_log(js, task_id)
    assert await again.append(UpdateType.STAGE_START, Stage.FETCH, 5, "Fetching") is None
    assert await again.append(UpdateType.STAGE_COMPLETE, Stage.FETCH, 10, "Fetched") is None
    stored = await again.append(UpdateType.STAGE_COMPLETE, Stage.LLM_EXTRACTION, 80, "Done")

    assert stored is not None and stored.seq == 4
    updates = await history(js, task_id)
    assert [u.seq for u in updates] == [1, 2, 3, 4]
    progress = [u.progress for u in updates]
    assert progress == sorted(progress)


async def test_concurrent_writers_never_share_a_seq(js: JetStreamContext) -> None:
    await declare_pipeline_streams(js, 24)
    task_id = new_task_id()
    steps = [(UpdateType.PROGRESS, Stage.LLM_EXTRACTION, p, f"step {p}") for p in range(11, 60)]

    async def writer() -> None:
        log = progress_log(js, task_id)
        for type_, stage, progress, message in steps:
            await log.append(type_, stage, progress, message)

    # Three replicas racing through the same updates, as after a redelivery.
    await asyncio.gather(writer(), writer(), writer())

    updates = await history(js, task_id)
    assert [u.seq for u in updates] == list(range(1, len(updates) + 1))
    assert [u.progress for u in updates] == sorted({u.progress for u in updates})
    assert updates[-1].progress == 59


async def test_nothing_follows_a_terminal_update(js: JetStreamContext) -> None:
    await declare_pipeline_streams(js, 24)
    task_id = new_task_id()
    log = progress_log(js, task_id)
    await log.append(UpdateType.STAGE_START, Stage.FETCH, 5, "Fetching")
    failed = await log.append(
        UpdateType.ERROR, Stage.FETCH, 0, "bad", error=task_error("corrupt_document", "bad")
    )

    assert failed is not None and failed.progress == 5  # an error never moves progress back
    assert await log.is_finished()
    late = progress_log(js, task_id)
    assert await late.append(UpdateType.STAGE_COMPLETE, Stage.FETCH, 10, "Fetched") is None
    assert await late.append(UpdateType.ERROR, Stage.FETCH, 5, "again") is None
    assert [u.type for u in await history(js, task_id)] == [
        UpdateType.STAGE_START,
        UpdateType.ERROR,
    ]


async def test_history_after_seq(js: JetStreamContext) -> None:
    await declare_pipeline_streams(js, 24)
    task_id = new_task_id()
    log = progress_log(js, task_id)
    for progress in (11, 12, 13):
        await log.append(UpdateType.PROGRESS, Stage.LLM_EXTRACTION, progress, "working")

    later = await read_history(js, task_id, after_seq=1)
    assert [u.seq for _, u in later] == [2, 3]
    assert await read_history(js, new_task_id()) == []
    assert await read_last(js, new_task_id()) is None


async def test_a_mark_from_the_previous_stage_continues_the_sequence(js: JetStreamContext) -> None:
    await declare_pipeline_streams(js, 24)
    task_id = new_task_id()
    extractor = progress_log(js, task_id)
    await extractor.append(UpdateType.STAGE_START, Stage.FETCH, 5, "Fetching")
    await extractor.append(UpdateType.STAGE_COMPLETE, Stage.LLM_EXTRACTION, 80, "Extracted")

    validator = progress_log(js, task_id)
    validator.resume(extractor.mark())
    stored = await validator.append(UpdateType.STAGE_START, Stage.VALIDATION, 80, "Validating")

    assert stored is not None and stored.seq == 3
    assert [u.seq for u in await history(js, task_id)] == [1, 2, 3]


async def test_a_stale_mark_is_caught_and_nothing_repeats(js: JetStreamContext) -> None:
    await declare_pipeline_streams(js, 24)
    task_id = new_task_id()
    first = progress_log(js, task_id)
    await first.append(UpdateType.STAGE_START, Stage.FETCH, 5, "Fetching")
    stale = first.mark()
    await first.append(UpdateType.STAGE_COMPLETE, Stage.FETCH, 10, "Fetched")

    late = progress_log(js, task_id)
    late.resume(stale)
    assert await late.append(UpdateType.STAGE_COMPLETE, Stage.FETCH, 10, "Fetched") is None
    stored = await late.append(UpdateType.STAGE_START, Stage.LLM_EXTRACTION, 10, "Extracting")

    assert stored is not None and stored.seq == 3
    assert [u.seq for u in await history(js, task_id)] == [1, 2, 3]


async def test_a_new_task_mark_needs_no_read(js: JetStreamContext) -> None:
    await declare_pipeline_streams(js, 24)
    task_id = new_task_id()
    log = progress_log(js, task_id)
    log.resume(ProgressMark())

    assert not await log.is_finished()
    stored = await log.append(UpdateType.STAGE_START, Stage.FETCH, 5, "Fetching")
    assert stored is not None and stored.seq == 1
