"""Tasks whose work message ran out of deliveries without an answer (the worker died on its
last attempt): JetStream's max-deliveries advisory, captured in a stream, ends them."""

from __future__ import annotations

import contextlib
import logging

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel, ValidationError

from contracts import ErrorCode, Message, Step, task_error
from contracts.names import WORK_STREAM
from services.messaging.envelopes import Publish
from services.messaging.progress_stream import progress_log
from services.worker.outcomes import fail_task

log = logging.getLogger(__name__)


class MaxDeliveriesAdvisory(BaseModel):
    stream: str
    consumer: str
    stream_seq: int
    deliveries: int


async def handle_exhausted(
    js: JetStreamContext, publish: Publish, advisory: MaxDeliveriesAdvisory, *, step: Step
) -> None:
    """Fail the task of the exhausted message once, dead-letter it, and drop it from the queue."""
    try:
        raw = await js.get_msg(WORK_STREAM, seq=advisory.stream_seq)
    except NotFoundError:
        return  # already handled by another replica
    body = raw.data or b""
    try:
        command = Message.model_validate_json(body)
    except ValidationError:
        log.error("dropping unreadable work message %s", advisory.stream_seq)
        await js.delete_msg(WORK_STREAM, advisory.stream_seq)
        return
    await fail_task(
        progress_log(js, command.task_id),
        publish,
        step=step,
        error=task_error(
            ErrorCode.RETRIES_EXHAUSTED,
            f"no worker finished this stage in {advisory.deliveries} attempts",
        ),
        deliveries=advisory.deliveries,
        command=body,
    )
    with contextlib.suppress(NotFoundError):
        await js.delete_msg(WORK_STREAM, advisory.stream_seq)
