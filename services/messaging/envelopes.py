"""Work commands and dead letters as they go on the wire: subject, body, headers, stream.

Every publish carries `Nats-Msg-Id`, so a retried publish is dropped by the stream instead of
processed twice; the formats are written here, once. The gateway (accepting a task) and the
worker runtime (handing a task to the next step) publish commands through `command_envelope`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from contracts import StageCommand, TaskDeadLettered
from contracts.names import DEAD_LETTER_STREAM, WORK_STREAM, dead_letter_subject
from contracts.pipeline import step_for_command


@dataclass(frozen=True, slots=True)
class Envelope:
    subject: str
    body: bytes
    headers: dict[str, str]
    stream: str


# How a service puts an envelope on NATS (its FastStream broker, or JetStream directly).
Publish = Callable[[Envelope], Awaitable[None]]


def command_envelope(command: StageCommand) -> Envelope:
    """The command on the subject of the step it starts; one message id per task and step."""
    subject = step_for_command(command).subject
    return Envelope(
        subject=subject,
        body=command.model_dump_json().encode(),
        headers={"Nats-Msg-Id": f"{command.task_id}:{subject}"},
        stream=WORK_STREAM,
    )


def dead_letter_envelope(letter: TaskDeadLettered) -> Envelope:
    return Envelope(
        subject=dead_letter_subject(letter.consumer),
        body=letter.model_dump_json().encode(),
        headers={"Nats-Msg-Id": f"{letter.task_id}:{letter.consumer}:dead_letter"},
        stream=DEAD_LETTER_STREAM,
    )
