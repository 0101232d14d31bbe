"""Live task updates for this replica's sockets.

One core NATS subscription per gateway, on every task's progress subject
(`invoices.progress.*`), made and flushed when the hub starts, before the gateway serves a
socket. A join registers its follower, then reads the task's stored history; `Sequencer`
(fanout.py) merges both sources so that each socket gets every seq once, in order. Sending
never waits: frames go to each socket's bounded `Outbox`.

A join needs no read at all when the hub heard the task's every update so far (seq 1 on,
no hole, no seq in two versions, no reconnect since): it is served what was heard, at once,
and what comes after reaches it live. That is the normal case — a socket joins a task
submitted seconds ago — and why a burst of joins costs no JetStream round trip. It replays
what the stream holds, message for message, but for the known limit below: a publish the
stream refused is heard as a second version of its seq, which sends the task's later joins
back to the stream; one that joins between the two versions is served the first heard, as
a live follower is.

Why a join misses nothing, with no timer: the subscription predates the join, so every update
published after the follower registered reaches it live. One published before is either
stored by the time the history read runs — the read has it — or was heard live but not stored
yet. The progress log publishes update N+1 only after N is stored, so only a task's *latest*
update can be in that state: the hub keeps the latest update it heard of every task for
`RECENT_SECONDS` and hands it to a new follower before the read (a store that takes longer
than that is caught by the silence check below).

Core NATS delivery is at most once, and not only when our own connection drops (then every
follower re-reads its history): on a JetStream cluster, a node going away can take a message
with it on its way from the publisher's node to ours, and a publisher that retries an append
the stream already stored publishes nothing more. A gap shows when the next update arrives; a
lost *last* update would never show. So a followed task that has sent nothing for
`silence_seconds` has its stored last update read, and is caught up from the stream if that is
ahead (one direct get per silent task per period, off the normal path). A history read that
fails while NATS is away is retried, with backoff, for as long as the follower stays: an
outage delays updates, it does not end a follow.

Followers of one task that join at once share history reads: a task's reads run one at a time,
and every follower that asks while one runs waits for the next, which starts after all of them
registered — so it sees everything the argument above needs — and serves them all (ten sockets
joining one task cost about two reads, not ten).

Every gateway hears every task's updates; for a task nobody follows here that costs a header
read and a dictionary entry (the seq is in the message id), not a JSON parse.

A live update that is next in order for a follower is sent at once, also while its history
is being read: a socket that joined before its task's first updates were stored gets them as
they happen instead of after its read (the read then brings nothing new for those seqs).

Known limit of core NATS delivery: a publish the stream refuses (a lost race between two
writers of the same seq, which only a redelivery handled twice at once can cause) still
reaches subscribers. A live update held out of order is replaced by its stored copy if a
read brings one before the hole closes; a live update sent as next in order (at once, or when
the hole before it closed live) was sent as it came, and can be such a copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from contracts.names import PROGRESS_WILDCARD
from contracts.progress import TERMINAL_TYPES
from services.gateway import frames
from services.gateway.fanout import Sequencer
from services.messaging.progress_stream import progress_seq, read_history, read_last
from services.telemetry import tracing
from services.telemetry.metrics import PUBLISH_TO_SOCKET

log = logging.getLogger(__name__)

# Backoff of a history read that failed while NATS is away (seconds): then every 15 s.
REPLAY_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 15.0)
# How long the latest update heard of a task is kept for a follower that joins meanwhile: far
# longer than a store takes (milliseconds), short enough to hold only the tasks running now.
RECENT_SECONDS = 5.0
# The heard histories' raw bytes, all tasks together (about ten updates of 0.3-10 KB a task;
# their decoded frames, made when a socket joins, cost about as much again).
HISTORY_MAX_BYTES = 16 * 1024 * 1024

_TERMINAL = frozenset(type_.value for type_ in TERMINAL_TYPES)


class Sink(Protocol):
    """Where a follower's frames go; never blocks. False: the socket is going away."""

    def send(self, frame: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Update:
    frame: str
    terminal: bool
    timestamp: float | None = None  # when it was stored (live updates: the delay metric)


class Follow:
    """One socket following one task."""

    def __init__(self, task_id: str, sink: Sink, after_seq: int) -> None:
        self.task_id = task_id
        self.sink = sink
        self.after_seq = after_seq  # what the client said it has
        self.sequencer: Sequencer[Update] = Sequencer(after_seq)
        self.reader: asyncio.Task[None] | None = None  # the running history read, if any
        self.recheck = False  # read the history once more when the running read is done
        self.ended = asyncio.Event()  # left, or nothing more will come
        self.heard_at = time.monotonic()  # the last update sent, or the last stored check

    @property
    def finished(self) -> bool:
        return self.ended.is_set()


class _Heard:
    """What the subscription brought of each task heard in the last `seconds`.

    Per task: the latest update (seq, raw message) and, while it is whole, the task's every
    update as heard: seqs 1..n, each once, with no hole. A task first heard past seq 1, a gap,
    a seq heard twice with different content (a publish the stream refused, or a retried
    append) or a reconnect make the task's history untrusted, and its joins read the stream.
    Histories hold at most `max_bytes` together (beyond, a task's is dropped and its joins
    read the stream); the latest update is kept for every task.
    """

    def __init__(self, seconds: float, max_bytes: int = HISTORY_MAX_BYTES) -> None:
        self._seconds = seconds
        self._max_bytes = max_bytes
        self._bytes = 0
        self._latest: dict[str, tuple[int, bytes]] = {}
        self._history: dict[str, list[bytes]] = {}  # task -> raw updates 1..n, whole
        self._decoded: dict[str, list[Update]] = {}  # the same, decoded, once asked for
        self._times: deque[tuple[float, str, int]] = deque()  # (when, task, seq), oldest first

    def __len__(self) -> int:
        return len(self._latest)

    def heard(self, task_id: str, seq: int, raw: bytes) -> None:
        now = time.monotonic()
        known = self._latest.get(task_id)
        if known is None or seq > known[0]:
            self._latest[task_id] = (seq, raw)
            self._times.append((now, task_id, seq))
        self._add_to_history(task_id, known is None, seq, raw)
        while self._times and now - self._times[0][0] > self._seconds:
            _, old_task, old_seq = self._times.popleft()
            kept = self._latest.get(old_task)
            if kept is not None and kept[0] == old_seq:  # not replaced by a newer one since
                del self._latest[old_task]
                self._forget(old_task)

    def _add_to_history(self, task_id: str, first: bool, seq: int, raw: bytes) -> None:
        history = self._history.get(task_id)
        if history is None:
            if first and seq == 1 and self._bytes + len(raw) <= self._max_bytes:
                self._history[task_id] = [raw]
                self._bytes += len(raw)
            return
        if seq == len(history) + 1 and self._bytes + len(raw) <= self._max_bytes:
            history.append(raw)
            self._bytes += len(raw)
        elif seq >= len(history) + 1 or history[seq - 1] != raw:
            # A hole, two versions of one seq, or no room: its joins ask the stream.
            self._forget(task_id)
        # else: the same message once more (core NATS redelivers nothing; a republish does)

    def _forget(self, task_id: str) -> None:
        history = self._history.pop(task_id, None)
        if history is not None:
            self._bytes -= sum(map(len, history))
        self._decoded.pop(task_id, None)

    def latest(self, task_id: str) -> tuple[int, bytes] | None:
        return self._latest.get(task_id)

    def history(self, task_id: str) -> list[Update] | None:
        """Every update of the task, seq 1 first, when all were heard; else None."""
        history = self._history.get(task_id)
        if history is None:
            return None
        decoded = self._decoded.setdefault(task_id, [])
        for raw in history[len(decoded) :]:
            update = _decode(task_id, raw)
            if update is None:
                self._forget(task_id)
                return None
            decoded.append(update)
        return decoded

    def distrust(self) -> None:
        """After a reconnect: what was missed meanwhile is unknown, so no history is whole."""
        self._history.clear()
        self._decoded.clear()
        self._bytes = 0


@dataclass(slots=True)
class _SharedRead:
    """A history read of one task that followers asking before it starts all share."""

    after: int
    result: asyncio.Future[list[tuple[int, Update]]]
    started: bool = False


class Hub:
    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        *,
        silence_seconds: float = 5.0,
        recent_seconds: float = RECENT_SECONDS,
    ) -> None:
        self._nc = nc
        self._js = js
        self._silence_seconds = silence_seconds
        self._follows: dict[str, set[Follow]] = {}
        self._heard = _Heard(recent_seconds)
        self._subscription: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._queued_reads: dict[str, _SharedRead] = {}  # per task, not started yet
        self._read_locks: dict[str, asyncio.Lock] = {}  # one read of a task at a time

    async def start(self) -> Hub:
        """Subscribe to every task's progress; from its return on, every update reaches us."""

        async def on_message(msg: Msg) -> None:
            if not tracing.active():
                self._on_live(msg)
                return
            with tracing.tracer().start_as_current_span(
                "fan-out", context=tracing.extract(msg.headers)
            ):
                self._on_live(msg)

        self._subscription = await self._nc.subscribe(PROGRESS_WILDCARD, cb=on_message)
        await self._nc.flush()
        self._spawn(self._watch_silence())
        return self

    def followed_tasks(self) -> int:
        return len(self._follows)

    def followers(self, task_id: str) -> int:
        return len(self._follows.get(task_id, ()))

    def heard_recently(self, task_id: str) -> bool:
        return self._heard.latest(task_id) is not None

    def follow(self, task_id: str, sink: Sink, after_seq: int = 0) -> Follow:
        """Start sending `sink` the task's stored updates after `after_seq`, then live ones."""
        follow = Follow(task_id, sink, after_seq)
        self._follows.setdefault(task_id, set()).add(follow)
        history = self._heard.history(task_id)
        if history is not None and len(history) > after_seq:
            # Every update so far was heard, and what comes from now on reaches the follower
            # live: the replay needs no read (the same as the stream's, message for message).
            follow.sequencer.reading()
            self._send(follow, follow.sequencer.caught_up(enumerate(history, 1)).send)
            return follow
        recent = self._heard.latest(task_id)
        if recent is not None and (update := _decode(task_id, recent[1])) is not None:
            # Heard live, maybe not stored yet: the replay alone could miss it.
            self._send(follow, follow.sequencer.live(recent[0], update).send)
            if follow.finished:
                return follow
        follow.reader = self._spawn(self._catch_up(follow))
        return follow

    def leave(self, follow: Follow) -> None:
        follow.ended.set()
        if follow.reader is not None and follow.reader is not asyncio.current_task():
            follow.reader.cancel()
        self._detach(follow)

    def resync(self) -> None:
        """Re-read every follower's history, e.g. after a reconnect may have lost messages."""
        self._heard.distrust()
        for follows in tuple(self._follows.values()):
            for follow in tuple(follows):
                self._recheck(follow)

    async def close(self) -> None:
        tasks = tuple(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
        self._follows.clear()

    def _detach(self, follow: Follow) -> None:
        follows = self._follows.get(follow.task_id)
        if follows is None:
            return
        follows.discard(follow)
        if not follows:
            del self._follows[follow.task_id]

    # --- delivery -------------------------------------------------------------------------

    def _on_live(self, msg: Msg) -> None:
        task_id = msg.subject.rpartition(".")[2]
        seq = progress_seq(msg.headers)
        if seq is None:
            log.warning("ignoring a progress message of %s without its seq", task_id)
            return
        self._heard.heard(task_id, seq, msg.data)
        follows = self._follows.get(task_id)
        if not follows:
            return
        update = _decode(task_id, msg.data)
        if update is None:
            return
        if update.timestamp is not None:
            PUBLISH_TO_SOCKET.observe(max(time.time() - update.timestamp, 0.0))
        for follow in tuple(follows):
            delivery = follow.sequencer.live(seq, update)
            self._send(follow, delivery.send)
            if delivery.read_history and not follow.finished:
                follow.reader = self._spawn(self._catch_up(follow))

    def _send(self, follow: Follow, updates: list[Update]) -> None:
        for update in updates:
            if follow.finished:
                return
            follow.heard_at = time.monotonic()
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
        while not follow.finished:
            follow.recheck = False
            after = follow.sequencer.reading()
            delivery = follow.sequencer.caught_up(await self._stored(follow.task_id, after))
            self._send(follow, delivery.send)
            if follow.finished:
                return
            if not (delivery.read_history or follow.recheck):
                if follow.sequencer.last == follow.after_seq > 0:
                    await self._end_if_ended(follow)  # joined at or past the end?
                return
            follow.sequencer.resync()

    async def _end_if_ended(self, follow: Follow) -> None:
        """A join whose `after_seq` leaves nothing to replay: if the task has ended at or
        before it, nothing more will come."""
        found = await read_last(self._js, follow.task_id)
        if found is not None and found[1].type in TERMINAL_TYPES:
            if found[1].seq <= follow.sequencer.last:
                follow.ended.set()
                self._detach(follow)
            else:
                self._recheck(follow)

    async def _stored(self, task_id: str, after_seq: int) -> list[tuple[int, Update]]:
        """The task's stored updates after `after_seq`, from a read that starts from now on."""
        shared = self._queued_reads.get(task_id)
        if shared is None or shared.started:
            future: asyncio.Future[list[tuple[int, Update]]] = (
                asyncio.get_running_loop().create_future()
            )
            future.add_done_callback(_retrieve)
            shared = self._queued_reads[task_id] = _SharedRead(after_seq, future)
            self._spawn(self._run_read(task_id, shared))
        else:
            shared.after = min(shared.after, after_seq)
        stored = await asyncio.shield(shared.result)
        return [(seq, update) for seq, update in stored if seq > after_seq]

    async def _run_read(self, task_id: str, shared: _SharedRead) -> None:
        lock = self._read_locks.setdefault(task_id, asyncio.Lock())
        async with lock:
            shared.started = True
            if self._queued_reads.get(task_id) is shared:
                del self._queued_reads[task_id]
            try:
                stored = await read_history(self._js, task_id, after_seq=shared.after)
            except Exception as exc:
                shared.result.set_exception(exc)
            else:
                shared.result.set_result(
                    [
                        (
                            update.seq,
                            Update(
                                frames.task_update(update.model_dump_json()),
                                update.type in TERMINAL_TYPES,
                            ),
                        )
                        for _, update in stored
                    ]
                )
        if not lock.locked() and task_id not in self._queued_reads:
            self._read_locks.pop(task_id, None)

    # --- silence --------------------------------------------------------------------------

    async def _watch_silence(self) -> None:
        """Every half period: followed tasks silent for `silence_seconds` look at the stream."""
        while True:
            await asyncio.sleep(self._silence_seconds / 2)  # a timer, not a wait on work
            now = time.monotonic()
            for follows in tuple(self._follows.values()):
                silent = [f for f in follows if now - f.heard_at >= self._silence_seconds]
                if silent:
                    for follow in silent:
                        follow.heard_at = now
                    self._spawn(self._check_stored(silent))

    async def _check_stored(self, follows: list[Follow]) -> None:
        try:
            found = await read_last(self._js, follows[0].task_id)
        except (nats.errors.Error, TimeoutError) as exc:
            log.debug("could not check %s: %r", follows[0].task_id, exc)  # next period
            return
        if found is None:
            return
        stored_seq, ended = found[1].seq, found[1].type in TERMINAL_TYPES
        for follow in follows:
            if follow.sequencer.last < stored_seq:
                self._recheck(follow)
            elif ended:
                follow.ended.set()
                self._detach(follow)

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


def _retrieve(future: asyncio.Future[Any]) -> None:
    """A shared read's failure is each waiter's to handle; with none left, it is not news."""
    if not future.cancelled():
        future.exception()


def _decode(task_id: str, raw: bytes) -> Update | None:
    try:
        fields = json.loads(raw)
        timestamp = fields.get("timestamp")
        return Update(
            frames.task_update(raw.decode()),
            fields.get("type") in _TERMINAL,
            float(timestamp) if isinstance(timestamp, int | float) else None,
        )
    except (ValueError, AttributeError):
        log.warning("ignoring a malformed progress message of %s", task_id)
        return None
