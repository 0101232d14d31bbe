"""Seq bookkeeping for one socket following one task: each update once, in order, none lost.

Updates reach a follower from two sources that race: the stored history (read when it joins
and whenever a gap shows) and the live subscription. `Sequencer` decides, without any I/O,
what to send and when another history read is needed.

Why one read always closes a gap: the progress log publishes update N+1 only after N is
stored, so once N+1 has been seen live, a read started afterwards contains N. A hole before
an update that was already known when a read started can therefore only mean the stream no
longer has it (expired): the follower skips ahead instead of waiting forever.

A live update that is next in order is sent at once, during a read too: the read only fills
holes. The stored copy of a seq replaces a live one only while that live one is held (out of
order); see the hub's "known limit" for what a live copy can be.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Delivery(Generic[T]):
    send: list[T] = field(default_factory=list)
    read_history: bool = False  # start a history read after `last`


class Sequencer(Generic[T]):
    """Starts in catch-up: a join begins with a replay of what is stored after `after_seq`."""

    def __init__(self, after_seq: int = 0) -> None:
        self.last = after_seq  # the highest seq sent
        self.catching_up = True
        self._pending: dict[int, T] = {}  # seen live while catching up, or after a gap
        self._known_at_read: frozenset[int] = frozenset()

    def live(self, seq: int, item: T) -> Delivery[T]:
        """An update from the subscription."""
        if seq <= self.last:
            return Delivery()
        if seq == self.last + 1:
            # Next in order: sent at once, also while a history read runs (a follower that
            # joined before its task's first updates were stored would otherwise hold them
            # for the read's length). What the read brings later is at or below `last`.
            self.last = seq
            send = [item]
            while (held := self._pending.pop(self.last + 1, None)) is not None:
                send.append(held)
                self.last += 1
            return Delivery(send)
        if self.catching_up:
            self._pending[seq] = item
            return Delivery()
        # A gap: hold this one until the missing ones are read from the stream.
        self._pending[seq] = item
        self.catching_up = True
        return Delivery(read_history=True)

    def resync(self) -> bool:
        """Ask for a history read (e.g. after a reconnect); False when one is due anyway."""
        if self.catching_up:
            return False
        self.catching_up = True
        return True

    def reading(self) -> int:
        """Call right before a history read; returns the seq to read after."""
        self._known_at_read = frozenset(self._pending)
        return self.last

    def caught_up(self, stored: Iterable[tuple[int, T]]) -> Delivery[T]:
        """The result of the read `reading()` announced: what to send, and whether to read again."""
        for seq, item in stored:
            if seq > self.last:
                # The stored copy wins: a live copy may come from a publish the stream refused.
                self._pending[seq] = item
        send: list[T] = []
        while self._pending:
            seq = min(self._pending)
            if seq != self.last + 1 and seq not in self._known_at_read:
                # Arrived during the read, after a hole the read could not yet see.
                return Delivery(send, read_history=True)
            send.append(self._pending.pop(seq))
            self.last = seq
        self.catching_up = False
        self._known_at_read = frozenset()
        return Delivery(send)
