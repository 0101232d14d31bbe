"""A broker that records what it would publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordingBroker:
    published: list[tuple[str, bytes, dict[str, Any]]] = field(default_factory=list)

    async def publish(self, message: bytes, subject: str, **kwargs: Any) -> None:
        self.published.append((subject, message, kwargs))
