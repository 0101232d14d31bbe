"""The hub against a real nats-server: replay, live, joins racing updates, gaps, silence, no
duplicates."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import nats
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from contracts import Stage, TaskUpdated, UpdateType, progress_subject
from services.gateway.hub import Hub, _Heard
from services.messaging.progress_stream import (
    progress_log,
    progress_message_id,
    read_history,
    read_last,
)
from tests.gateway.conftest import append_progress, append_steps, new_task_id
from tests.support.waiting import wait_until

TIMEOUT = 10.0


class Collect:
    """A socket's outbox stand-in: records frames, can refuse them like a closed socket."""

    def __init__(self, accept: bool = True) -> None:
        self.frames: list[dict[str, Any]] = []
        self.accept = accept
        self._arrived = asyncio.Event()

    def send(self, frame: str) -> bool:
        self.frames.append(json.loads(frame))
        self._arrived.set()
        return self.accept

    def seqs(self) -> list[int]:
        return [f["data"]["seq"] for f in self.frames if f["event"] == "task_update"]

    async def until(self, count: int) -> list[dict[str, Any]]:
        async def wait() -> None:
            while len(self.frames) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(wait(), TIMEOUT)
        return self.frames

    async def until_seq(self, seq: int) -> list[int]:
        async def wait() -> None:
            while seq not in self.seqs():
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(wait(), TIMEOUT)
        return self.seqs()


class SpiedReads:
    """JetStream whose message reads are counted, and whose first `failures` of them time out
    as while a stream elects a leader; everything goes to the real one."""

    def __init__(self, js: JetStreamContext, failures: int = 0) -> None:
        self._js = js
        self._failures = failures
        self.failed = 0
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)

    async def get_msg(self, *args: Any, **kwargs: Any) -> Any:
        self.reads += 1
        if self.failed < self._failures:
            self.failed += 1
            raise nats.errors.TimeoutError
        return await self._js.get_msg(*args, **kwargs)


async def wait_until_heard(hub: Hub, task_id: str) -> None:
    """Until the hub's subscription has delivered an update of the task (it keeps the latest)."""

    async def heard() -> bool:
        return hub.heard_recently(task_id)

    await wait_until(heard, timeout=TIMEOUT, interval=0.01)


@contextlib.asynccontextmanager
async def running_hub(
    nc: NatsClient, js: JetStreamContext | SpiedReads, silence_seconds: float = 60
) -> AsyncIterator[Hub]:
    """A started hub, closed afterwards. No silence check within a test's time by default:
    what a test sees came live or from a replay."""
    hub = await Hub(nc, js, silence_seconds=silence_seconds).start()  # type: ignore[arg-type]
    try:
        yield hub
    finally:
        await hub.close()


@contextlib.asynccontextmanager
async def quiet_hub(
    nats_url: str, silence_seconds: float = 60
) -> AsyncIterator[tuple[Hub, NatsClient]]:
    """A hub on a connection that does not hear its own publishes (no_echo): updates
    appended through that connection are stored but never delivered live, a deterministic
    loss on the way."""
    quiet = await nats.connect(nats_url, no_echo=True)
    try:
        async with running_hub(quiet, quiet.jetstream(), silence_seconds) as hub:
            yield hub, quiet
    finally:
        await quiet.close()


async def publish_refused(nc: NatsClient, update: TaskUpdated) -> None:
    """Publish `update` as a writer whose append the stream refuses (a wrong expected last
    sequence): subscribers still hear it, the stream does not store it."""
    await nc.publish(
        progress_subject(update.task_id),
        update.model_dump_json().encode(),
        headers={
            "Nats-Msg-Id": progress_message_id(update.task_id, update.seq),
            "Nats-Expected-Last-Subject-Sequence": "999999",
        },
    )


@pytest.fixture
async def hub(nats_client: NatsClient, streams: JetStreamContext) -> AsyncIterator[Hub]:
    async with running_hub(nats_client, streams) as started:
        yield started


async def test_replays_the_history_then_streams_live(hub: Hub, js: JetStreamContext) -> None:
    task_id = new_task_id()
    log = progress_log(js, task_id)
    await append_steps(log, 3)
    sink = Collect()

    hub.follow(task_id, sink)
    await sink.until(3)
    await append_steps(progress_log(js, task_id), 5, start=3)

    assert await sink.until_seq(5) == [1, 2, 3, 4, 5]
    assert sink.frames[0]["data"]["task_id"] == task_id
    assert sink.frames[0]["data"]["type"] == "stage_start"


async def test_after_seq_replays_only_the_rest(hub: Hub, js: JetStreamContext) -> None:
    task_id = new_task_id()
    await append_steps(progress_log(js, task_id), 4)
    sink = Collect()

    hub.follow(task_id, sink, after_seq=2)

    assert await sink.until_seq(4) == [3, 4]


async def test_followers_of_a_task_are_counted_until_the_last_leaves(
    hub: Hub, js: JetStreamContext
) -> None:
    task_id = new_task_id()
    log = progress_log(js, task_id)
    first, second = Collect(), Collect()
    a = hub.follow(task_id, first)
    b = hub.follow(task_id, second)
    assert hub.followed_tasks() == 1 and hub.followers(task_id) == 2

    await log.append(UpdateType.STAGE_START, Stage.FETCH, 5, "Fetching")
    await first.until_seq(1)
    await second.until_seq(1)
    hub.leave(a)
    assert hub.followers(task_id) == 1 and hub.followed_tasks() == 1
    await log.append(UpdateType.STAGE_COMPLETE, Stage.FETCH, 10, "Fetched")
    await second.until_seq(2)
    hub.leave(b)

    assert hub.followed_tasks() == 0
    assert first.seqs() == [1]


async def test_a_terminal_update_ends_the_follow(hub: Hub, js: JetStreamContext) -> None:
    task_id = new_task_id()
    log = progress_log(js, task_id)
    sink = Collect()
    hub.follow(task_id, sink)

    await log.append(UpdateType.STAGE_START, Stage.FETCH, 5, "Fetching")
    await log.append(UpdateType.ERROR, Stage.FETCH, 5, "Failed", error=None)
    await sink.until_seq(2)

    assert sink.frames[-1]["data"]["type"] == "error"
    assert hub.followed_tasks() == 0


async def test_a_late_joiner_racing_live_updates_gets_each_seq_once(
    hub: Hub, js: JetStreamContext
) -> None:
    task_id = new_task_id()
    log = progress_log(js, task_id)
    await append_progress(log, range(11, 16))
    sinks = [Collect() for _ in range(5)]
    waiting = list(sinks)

    # Joins land between appends: each replay runs while later updates are published live.
    for percent in range(16, 60):
        await log.append(UpdateType.PROGRESS, Stage.LLM_EXTRACTION, percent, f"{percent}%")
        if percent % 9 == 0 and waiting:
            hub.follow(task_id, waiting.pop())

    assert not waiting
    for sink in sinks:
        assert await sink.until_seq(49) == list(range(1, 50))


async def test_a_gap_in_live_delivery_is_filled_from_the_stream(
    nats_url: str, nats_client: NatsClient, streams: JetStreamContext
) -> None:
    async with quiet_hub(nats_url) as (hub, quiet):
        task_id = new_task_id()
        sink = Collect()
        hub.follow(task_id, sink)
        await progress_log(streams, task_id).append(
            UpdateType.PROGRESS, Stage.LLM_EXTRACTION, 11, "a"
        )
        await sink.until_seq(1)

        await append_progress(
            progress_log(quiet.jetstream(), task_id), range(12, 14)
        )  # 2, 3 unseen
        await progress_log(streams, task_id).append(
            UpdateType.PROGRESS, Stage.LLM_EXTRACTION, 14, "d"
        )

        assert await sink.until_seq(4) == [1, 2, 3, 4]


async def test_a_lost_last_update_shows_up_after_the_silence_check(
    nats_url: str, streams: JetStreamContext
) -> None:
    async with quiet_hub(nats_url, silence_seconds=0.2) as (hub, quiet):
        task_id = new_task_id()
        sink = Collect()
        hub.follow(task_id, sink)
        await progress_log(streams, task_id).append(
            UpdateType.PROGRESS, Stage.LLM_EXTRACTION, 11, "heard live"
        )
        await sink.until_seq(1)

        # Stored, lost on its way (never delivered live), and nothing follows it.
        await progress_log(quiet.jetstream(), task_id).append(
            UpdateType.PROGRESS, Stage.LLM_EXTRACTION, 12, "lost on its way"
        )

        assert await sink.until_seq(2) == [1, 2]


async def test_a_replay_that_fails_while_nats_is_away_is_retried(
    nats_client: NatsClient, streams: JetStreamContext
) -> None:
    task_id = new_task_id()
    await append_steps(progress_log(streams, task_id), 2)
    # Reads fail as they do while the stream has no leader; the connection itself stays.
    failing = SpiedReads(streams, failures=2)
    async with running_hub(nats_client, failing) as hub:
        sink = Collect()
        hub.follow(task_id, sink)

        assert await sink.until_seq(2) == [1, 2]
        assert failing.failed == 2
        assert all(frame["event"] == "task_update" for frame in sink.frames)


async def test_followers_joining_a_task_at_once_share_its_history_reads(
    nats_client: NatsClient, streams: JetStreamContext
) -> None:
    task_id = new_task_id()
    await append_steps(progress_log(streams, task_id), 5)
    counted = SpiedReads(streams)
    async with running_hub(nats_client, counted) as hub:
        sinks = [Collect() for _ in range(10)]
        for sink in sinks:
            hub.follow(task_id, sink)

        for sink in sinks:
            assert await sink.until_seq(5) == [1, 2, 3, 4, 5]
        # One read of five updates is six gets (the last finds nothing); ten reads would be 60.
        assert counted.reads <= 2 * 6


async def test_a_closed_socket_does_not_hold_up_the_others(hub: Hub, js: JetStreamContext) -> None:
    task_id = new_task_id()
    gone, healthy = Collect(accept=False), Collect()
    hub.follow(task_id, gone)
    hub.follow(task_id, healthy)

    await append_steps(progress_log(js, task_id), 4)

    assert await healthy.until_seq(4) == [1, 2, 3, 4]
    assert gone.seqs() == [1]  # refused the first frame, was sent nothing more
    assert hub.followers(task_id) == 1


async def test_a_follow_on_a_closed_connection_gets_an_error(
    nats_url: str, streams: JetStreamContext
) -> None:
    closing = await nats.connect(nats_url)
    hub = await Hub(closing, closing.jetstream(), silence_seconds=60).start()
    await closing.close()  # for good: no reconnect will bring the updates
    sink = Collect()

    hub.follow(new_task_id(), sink)

    frames = await sink.until(1)
    assert frames[0]["event"] == "error" and frames[0]["data"]["code"] == "unavailable"
    assert hub.followed_tasks() == 0
    await hub.close()


async def test_a_join_racing_an_update_not_yet_stored_gets_it_from_what_was_heard(
    nats_client: NatsClient, streams: JetStreamContext
) -> None:
    async with running_hub(nats_client, streams) as hub:
        task_id = new_task_id()
        await append_steps(progress_log(streams, task_id), 1)
        # Heard live, not in the stream (as for the milliseconds before a store): a publish
        # the stream refuses to store still reaches subscribers.
        update = (await read_last(streams, task_id))[1]  # type: ignore[index]
        unstored = update.model_copy(update={"seq": 2, "message": "heard, not stored"})
        await publish_refused(nats_client, unstored)
        await nats_client.flush()
        await wait_until_heard(hub, task_id)
        sink = Collect()

        hub.follow(task_id, sink)

        assert await sink.until_seq(2) == [1, 2]
        assert [u.seq for _, u in await read_history(streams, task_id)] == [1]  # never stored


async def test_joining_past_the_end_releases_the_follow(
    nats_client: NatsClient, streams: JetStreamContext
) -> None:
    async with running_hub(nats_client, streams) as hub:
        task_id = new_task_id()
        log = progress_log(streams, task_id)
        await append_steps(log, 1)
        await log.append(UpdateType.ERROR, Stage.FETCH, 5, "failed")
        sink = Collect()

        follow = hub.follow(task_id, sink, after_seq=2)  # the client has seen the end already
        assert hub.followed_tasks() == 1

        await asyncio.wait_for(follow.ended.wait(), TIMEOUT)
        assert hub.followed_tasks() == 0
        assert sink.frames == []


class GatedReads(SpiedReads):
    """JetStream whose message reads wait until `opened` is set (a slow history read)."""

    def __init__(self, js: JetStreamContext) -> None:
        super().__init__(js)
        self.opened = asyncio.Event()

    async def get_msg(self, *args: Any, **kwargs: Any) -> Any:
        await self.opened.wait()
        return await super().get_msg(*args, **kwargs)


async def test_live_updates_next_in_order_do_not_wait_for_the_history_read(
    nats_client: NatsClient, streams: JetStreamContext
) -> None:
    gated = GatedReads(streams)
    async with running_hub(nats_client, gated) as hub:
        task_id = new_task_id()
        sink = Collect()
        hub.follow(task_id, sink)  # joined before anything was stored; its read is held
        log = progress_log(streams, task_id)

        await append_steps(log, 2)

        assert await sink.until_seq(2) == [1, 2]  # live, while the read still waits
        gated.opened.set()
        await append_steps(log, 3, start=2)
        assert await sink.until_seq(3) == [1, 2, 3]  # the read brought nothing twice


async def test_a_join_for_a_task_heard_from_its_start_replays_without_a_read(
    nats_client: NatsClient, streams: JetStreamContext
) -> None:
    counted = SpiedReads(streams)
    async with running_hub(nats_client, counted) as hub:
        task_id = new_task_id()
        first = Collect()
        hub.follow(task_id, first)  # before anything is stored: its read finds nothing
        await append_steps(progress_log(streams, task_id), 3)
        await first.until_seq(3)  # so the hub has heard all three
        reads = counted.reads
        late = Collect()

        hub.follow(task_id, late)

        assert late.seqs() == [1, 2, 3]  # at once, from what was heard
        assert counted.reads == reads
        assert [f["data"]["message"] for f in late.frames] == [
            f["data"]["message"] for f in first.frames
        ]


async def test_a_hole_in_what_was_heard_sends_the_join_to_the_stream(
    nats_url: str, streams: JetStreamContext
) -> None:
    async with quiet_hub(nats_url) as (hub, quiet):
        task_id = new_task_id()
        first = Collect()
        hub.follow(task_id, first)
        await append_steps(progress_log(streams, task_id), 1)
        await append_steps(progress_log(quiet.jetstream(), task_id), 2, start=1)  # unheard
        await append_steps(progress_log(streams, task_id), 3, start=2)
        await first.until_seq(3)
        late = Collect()

        hub.follow(task_id, late)

        assert await late.until_seq(3) == [1, 2, 3]
        assert late.frames[1]["data"]["message"] == first.frames[1]["data"]["message"]


async def test_a_seq_heard_in_two_versions_is_replayed_as_stored(
    nats_client: NatsClient, streams: JetStreamContext
) -> None:
    async with running_hub(nats_client, streams) as hub:
        task_id = new_task_id()
        first = Collect()
        hub.follow(task_id, first)
        log = progress_log(streams, task_id)
        (one,) = await append_steps(log, 1)
        # A racing writer's copy of seq 2, heard first and refused by the stream (which then
        # stores the other writer's): a live follower gets it, a replay must not.
        refused = one.model_copy(update={"seq": 2, "message": "refused copy"})
        await publish_refused(nats_client, refused)
        stored = await append_steps(log, 3, start=1)  # same connection: heard after it
        await first.until_seq(3)
        assert first.frames[1]["data"]["message"] == "refused copy"  # the known limit
        late = Collect()

        hub.follow(task_id, late)

        assert await late.until_seq(3) == [1, 2, 3]
        assert late.frames[1]["data"]["message"] == stored[0].message


async def test_after_a_resync_a_join_reads_the_stream(
    nats_client: NatsClient, streams: JetStreamContext
) -> None:
    counted = SpiedReads(streams)
    async with running_hub(nats_client, counted) as hub:
        task_id = new_task_id()
        first = Collect()
        following = hub.follow(task_id, first)
        await append_steps(progress_log(streams, task_id), 2)
        await first.until_seq(2)
        hub.leave(hub.follow(task_id, Collect()))  # served from what was heard, no read
        hub.leave(following)
        hub.resync()  # as after a reconnect: what was heard may have holes nobody saw
        reads = counted.reads
        late = Collect()

        hub.follow(task_id, late)

        assert await late.until_seq(2) == [1, 2]
        assert counted.reads > reads


def heard_update(task_id: str, seq: int, message: str = "") -> bytes:
    return json.dumps(
        {"task_id": task_id, "seq": seq, "type": "progress", "timestamp": 1.0, "message": message}
    ).encode()


def test_heard_histories_stay_within_their_bytes_and_give_room_back() -> None:
    one, two = heard_update("a", 1), heard_update("b", 1)
    heard = _Heard(seconds=60, max_bytes=len(one) + len(two) + 10)
    heard.heard("a", 1, one)
    heard.heard("b", 1, two)
    heard.heard("c", 1, heard_update("c", 1))  # no room: its joins will read the stream

    assert [heard.history(t) is not None for t in "abc"] == [True, True, False]
    heard.heard("a", 2, heard_update("a", 2))  # no room for it: a's history is dropped...
    assert heard.history("a") is None
    assert heard.latest("a") == (2, heard_update("a", 2))  # ...its latest update is kept
    heard.heard("d", 1, heard_update("d", 1))  # and its bytes are free again
    assert heard.history("d") is not None


def test_a_history_is_whole_only_from_seq_1() -> None:
    heard = _Heard(seconds=60)
    heard.heard("a", 2, heard_update("a", 2))
    heard.heard("b", 1, heard_update("b", 1))
    heard.heard("b", 1, heard_update("b", 1))  # the same message again changes nothing
    heard.heard("b", 2, heard_update("b", 2))

    assert heard.history("a") is None
    history = heard.history("b")
    assert history is not None and len(history) == 2
