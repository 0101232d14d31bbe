"""The SDK's small value types: an accepted `Task`, processing `Options`, a page of invoices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Json = dict[str, Any]

#: `task_update` types that end a task; nothing follows either.
TERMINAL_TYPES = frozenset({"complete", "error"})
#: Task `status` values that will not change any more.
FINAL_STATUSES = frozenset({"completed", "error"})


@dataclass(frozen=True)
class Task:
    """A task the gateway accepted. `token` is the capability to watch it and read its status."""

    task_id: str
    token: str
    filename: str

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Task:
        return cls(str(body["task_id"]), str(body["token"]), str(body.get("filename") or ""))

    def to_json(self) -> Json:
        return {"task_id": self.task_id, "token": self.token, "filename": self.filename}


@dataclass(frozen=True)
class Options:
    """Processing options (spec: `options`); `None` leaves the gateway's default."""

    auto_save: bool | None = None
    confidence_threshold: float | None = None
    model_provider: Literal["local", "openai"] | None = None
    model: str | None = None

    def to_json(self) -> Json:
        return {key: value for key, value in self.__dict__.items() if value is not None}


OptionsLike = Options | Mapping[str, Any] | None


def options_json(options: OptionsLike) -> Json:
    if options is None:
        return {}
    if isinstance(options, Options):
        return options.to_json()
    return dict(options)


@dataclass(frozen=True)
class InvoicePage:
    """One page of `GET /api/invoices`: summaries, newest first, and the cursor of the next."""

    items: list[Json] = field(default_factory=list)
    next_cursor: str | None = None


def is_terminal(update: Mapping[str, Any]) -> bool:
    return update.get("type") in TERMINAL_TYPES
