"""The JetStream streams every service may declare (idempotently) at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts import names

DAY = 24 * 3600


class StreamSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    subjects: tuple[str, ...]
    retention: Literal["workqueue", "limits"]
    max_age_seconds: float = 0  # 0: no age limit
    duplicate_window_seconds: float = 120
    max_msgs_per_subject: int = -1


WORK = StreamSpec(
    name=names.WORK_STREAM,
    subjects=names.WORK_SUBJECTS,
    retention="workqueue",
    # A command retried later than this window is still harmless: every handler is idempotent.
    duplicate_window_seconds=600,
)


def progress_stream(retention_seconds: float = 7 * DAY) -> StreamSpec:
    if retention_seconds < DAY:
        raise ValueError("progress must be kept at least 24 h (spec section 5)")
    return StreamSpec(
        name=names.PROGRESS_STREAM,
        subjects=(names.PROGRESS_WILDCARD,),
        retention="limits",
        max_age_seconds=retention_seconds,
    )


DEAD_LETTER = StreamSpec(
    name=names.DEAD_LETTER_STREAM,
    subjects=(f"{names.DEAD_LETTER_SUBJECT_PREFIX}.*",),
    retention="limits",
    max_age_seconds=30 * DAY,
)

ADVISORIES = StreamSpec(
    name=names.ADVISORY_STREAM,
    subjects=(f"{names.MAX_DELIVERIES_ADVISORY_PREFIX}.*",),
    retention="limits",
    max_age_seconds=7 * DAY,
)

WEBHOOKS = StreamSpec(
    name=names.WEBHOOKS_STREAM,
    subjects=(names.WEBHOOK_DELIVER_SUBJECT,),
    retention="workqueue",
    # A delivery is published again when its event is seen again (a redelivered progress
    # update, a retried review): the same delivery id within this window is stored once.
    duplicate_window_seconds=3600,
)
