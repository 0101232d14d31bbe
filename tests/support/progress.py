"""The progress log's storage primitive in memory, for tests without a nats-server.

Only the primitive is faked (append if the task's last stored update is still at `after`, as
JetStream's expected-last-subject-sequence does); the rules on top of it are the real
`ProgressLog`'s.
"""

from __future__ import annotations

from contracts import TaskUpdated


class MemoryProgressStore:
    """Every task's stored updates, numbered like one stream's sequence."""

    def __init__(self) -> None:
        self.stored: list[tuple[int, TaskUpdated]] = []

    async def last(self, task_id: str) -> tuple[int, TaskUpdated] | None:
        own = [entry for entry in self.stored if entry[1].task_id == task_id]
        return own[-1] if own else None

    async def append(self, update: TaskUpdated, *, after: int) -> int | None:
        last = await self.last(update.task_id)
        if (last[0] if last else 0) != after:
            return None  # another writer appended first
        stream_seq = len(self.stored) + 1
        self.stored.append((stream_seq, update))
        return stream_seq

    def updates(self, task_id: str | None = None) -> list[TaskUpdated]:
        return [u for _, u in self.stored if task_id is None or u.task_id == task_id]

    def seen(self, task_id: str | None = None) -> list[tuple[str, str, int]]:
        return [(u.type.value, u.stage.value, u.progress) for u in self.updates(task_id)]
