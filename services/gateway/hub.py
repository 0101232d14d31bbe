"""Live task updates for this replica's sockets.

One core NATS subscription per followed task (`invoices.progress.<task_id>`), shared by every
socket here that follows it and dropped when the last one leaves. A join subscribes (and
flushes) before it reads the stored history, so nothing published meanwhile falls between the
two; `Sequencer` (fanout.py) merges both sources so that each socket gets every seq once, in
order. Sending never waits: frames go to each socket's bounded `Outbox`.

Core NATS delivery is at most once, and not only when our own connection drops (then every
follower re-reads its history): on a JetStream cluster, a node going away can take a message
with it on its way from the publisher's node to ours, and a publisher that retries an append
the stream already stored publishes nothing more. A gap shows when the next update arrives; a
lost *last* update would never show. So a feed that has heard nothing for `silence_seconds`
reads the stored last update and catches up from the stream if it is ahead (one direct get per
silent task per period). A history read that fails while NATS is away is retried, with backoff,
for as long as the follower stays: an outage delays updates, it does not end a follow.

Known limit of core NATS delivery: a publish the stream refuses (a lost race between two
writers of the same seq) still reaches subscribers. Whenever a follower reads the stream, the
stored copy of a seq wins; only an update taken live without a read can be such a copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from contracts import progress_subject
from contracts.progress import TERMINAL_TYPES
from services.gateway import frames
from services.gateway.fanout import Sequencer
from services.messaging.progress_stream import read_history, read_last
from services.telemetry import tracing
from services.telemetry.metrics import PUBLISH_TO_SOCKET

log = logging.getLogger(__name__)

# Backoff of a history read that failed while NATS is away (seconds): then every 15 s.
REPLAY_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 15.0)

_TERMINAL = frozenset(type_.value for type_ in TERMINAL_TYPES)


class Sink(Protocol):
    """Where a follower's frames go; never blocks. False: the socket is going away."""

    def send(self, frame: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Update:
    frame: str
    terminal: bool


class Follow:
    """One socket following one task."""

    def __init__(self, task_id: str, sink: Sink, after_seq: int, feed: _Feed) -> None:
        self.task_id = task_id
        self.sink = sink
        self.sequencer: Sequencer[Update] = Sequencer(after_seq)
        self.feed = feed
        self.reader: asyncio.Task[None] | None = None  # the running history read, if any
        self.recheck = False  # read the history once more when the running read is done
        self.ended = asyncio.Event()  # left, or nothing more will come

    @property
    def finished(self) -> bool:
        return self.ended.is_set()


class _Feed:
    """The subscription to one task's progress subject and the follows sharing it."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.follows: set[Follow] = set()
        self.subscription: Subscription | None = None
        self.ready: asyncio.Task[None] | None = None  # subscribed and flushed
        self.latest: tuple[int, Update] | None = None  # the highest seq seen live
        self.heard_at = time.monotonic()  # the last live update, or the last stored check


class Hub:
    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        *,
        settle_seconds: float = 1.0,
        silence_seconds: float = 5.0,
    ) -> None:
        self._nc = nc
        self._js = js
        self._settle_seconds = settle_seconds
        self._silence_seconds = silence_seconds
        self._feeds: dict[str, _Feed] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def subscriptions(self) -> int:
        return len(self._feeds)

    def followers(self, task_id: str) -> int:
        feed = self._feeds.get(task_id)
        return len(feed.follows) if feed else 0

    def follow(self, task_id: str, sink: Sink, after_seq: int = 0) -> Follow:
        """Start sending `sink` the task's stored updates after `after_seq`, then live ones."""
        feed = self._feeds.get(task_id) or self._open(task_id)
        follow = Follow(task_id, sink, after_seq, feed)
        feed.follows.add(follow)
        if feed.latest is not None:
            # Already seen live, maybe not stored yet: the replay alone could miss it.
            follow.sequencer.live(*feed.latest)
        follow.reader = self._spawn(self._catch_up(follow))
        return follow

    def leave(self, follow: Follow) -> None:
        follow.ended.set()
        if follow.reader is not None and follow.reader is not asyncio.current_task():
            follow.reader.cancel()
        self._detach(follow)

    def resync(self) -> None:
        """Re-read every follower's history, e.g. after a reconnect may have lost messages."""
        for feed in self._feeds.values():
            for follow in tuple(feed.follows):
                self._recheck(follow)

    async def close(self) -> None:
        tasks = tuple(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for feed in self._feeds.values():
            if feed.subscription is not None:
                with contextlib.suppress(nats.errors.Error):
                    await feed.subscription.unsubscribe()
        self._feeds.clear()

    # --- subscriptions --------------------------------------------------------------------

    def _open(self, task_id: str) -> _Feed:
        feed = _Feed(task_id)
        self._feeds[task_id] = feed
        feed.ready = self._spawn(self._subscribe(feed))
        return feed

    async def _subscribe(self, feed: _Feed) -> None:
        async def on_message(msg: Msg) -> None:
            if not tracing.active():
                self._on_live(feed, msg.data)
                return
            with tracing.tracer().start_as_current_span(
                "fan-out", context=tracing.extract(msg.headers)
            ):
                self._on_live(feed, msg.data)

        feed.subscription = await self._nc.subscribe(progress_subject(feed.task_id), cb=on_message)
        # Once the server has the subscription, everything published from now on arrives live.
        await self._nc.flush()
        feed.heard_at = time.monotonic()
        self._spawn(self._watch(feed))

    async def _watch(self, feed: _Feed) -> None:
        """Look at the stored last update once `settle_seconds` after subscribing (an update
        published just before the subscription may be stored only after the first replay read
        it), then whenever the feed has been silent for `silence_seconds` (a live message lost
        on its way, see the module's doc)."""
        settle_at: float | None = time.monotonic() + self._settle_seconds
        while self._feeds.get(feed.task_id) is feed:
            due = feed.heard_at + self._silence_seconds
            if settle_at is not None:
                due = min(due, settle_at)
            await asyncio.sleep(max(due - time.monotonic(), 0.0))  # a timer, not a wait on work
            if self._feeds.get(feed.task_id) is not feed:
                return
            now = time.monotonic()
            if settle_at is not None and now >= settle_at:
                settle_at = None
            elif now - feed.heard_at < self._silence_seconds:
                continue  # heard something meanwhile
            feed.heard_at = now
            try:
                await self._check_stored(feed)
            except (nats.errors.Error, TimeoutError) as exc:
                log.debug("could not check %s: %r", feed.task_id, exc)  # next period

    async def _check_stored(self, feed: _Feed) -> None:
        found = await read_last(self._js, feed.task_id)
        if found is None:
            return
        stored_seq, ended = found[1].seq, found[1].type in TERMINAL_TYPES
        for follow in tuple(feed.follows):
            if follow.sequencer.last < stored_seq:
                self._recheck(follow)
            elif ended:
                # Joined with after_seq at or past the end: nothing more will come.
                follow.ended.set()
                self._detach(follow)

    def _detach(self, follow: Follow) -> None:
        feed = follow.feed
        feed.follows.discard(follow)
        if not feed.follows and self._feeds.get(feed.task_id) is feed:
            del self._feeds[feed.task_id]
            self._spawn(self._unsubscribe(feed))

    async def _unsubscribe(self, feed: _Feed) -> None:
        if feed.ready is not None:
            await asyncio.wait({feed.ready})
        if feed.subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await feed.subscription.unsubscribe()

    # --- delivery -------------------------------------------------------------------------

    def _on_live(self, feed: _Feed, raw: bytes) -> None:
        try:
            fields = json.loads(raw)
            seq = int(fields["seq"])
            update = Update(frames.task_update(raw.decode()), fields.get("type") in _TERMINAL)
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignoring a malformed progress message of %s", feed.task_id)
            return
        feed.heard_at = time.monotonic()
        if feed.latest is None or seq > feed.latest[0]:
            feed.latest = (seq, update)
        _observe_delay(fields.get("timestamp"))
        for follow in tuple(feed.follows):
            delivery = follow.sequencer.live(seq, update)
            self._send(follow, delivery.send)
            if delivery.read_history and not follow.finished:
                follow.reader = self._spawn(self._catch_up(follow))

    def _send(self, follow: Follow, updates: list[Update]) -> None:
        for update in updates:
            if follow.finished:
                return
            if not follow.sink.send(update.frame):
                self.leave(follow)  # the socket is closed for good
                return
            if update.terminal:
                # Nothing follows a terminal update: stop listening on this follower's behalf.
                follow.ended.set()
                self._detach(follow)

    def _recheck(self, follow: Follow) -> None:
        if follow.finished:
            return
        if follow.sequencer.resync():
            follow.reader = self._spawn(self._catch_up(follow))
        else:
            follow.recheck = True  # a read is under way; it reads once more when done

    async def _catch_up(self, follow: Follow) -> None:
        failures = 0
        while True:
            try:
                await self._read_up(follow)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._nc.is_closed:  # our connection is gone for good: so is this follow
                    log.warning("could not replay %s: %r", follow.task_id, exc)
                    follow.sink.send(
                        frames.error(
                            "unavailable", f"could not read the updates of {follow.task_id}"
                        )
                    )
                    self.leave(follow)
                    return
                # NATS away, a stream electing its leader: delay the updates, keep the follow.
                delay = REPLAY_RETRY_SECONDS[min(failures, len(REPLAY_RETRY_SECONDS) - 1)]
                failures += 1
                log.info("replay of %s failed (%r), again in %g s", follow.task_id, exc, delay)
                await asyncio.sleep(delay)  # backoff
                if follow.finished:
                    return

    async def _read_up(self, follow: Follow) -> None:
        assert follow.feed.ready is not None
        # Shielded: a follower leaving must not cancel the subscription others wait for.
        await asyncio.shield(follow.feed.ready)
        while not follow.finished:
            follow.recheck = False
            after = follow.sequencer.reading()
            delivery = follow.sequencer.caught_up(await self._stored(follow.task_id, after))
            self._send(follow, delivery.send)
            if follow.finished or not (delivery.read_history or follow.recheck):
                return
            follow.sequencer.resync()

    async def _stored(self, task_id: str, after_seq: int) -> list[tuple[int, Update]]:
        stored = await read_history(self._js, task_id, after_seq=after_seq)
        return [
            (
                update.seq,
                Update(frames.task_update(update.model_dump_json()), update.type in TERMINAL_TYPES),
            )
            for _, update in stored
        ]

    # --- tasks ----------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("hub task failed: %r", exc)


def _observe_delay(timestamp: object) -> None:
    """Publish → fan-out delay of a live update (its `timestamp` is when it was stored)."""
    if isinstance(timestamp, int | float):
        PUBLISH_TO_SOCKET.observe(max(time.time() - timestamp, 0.0))
