"""Work commands on the wire: the subject of the step they start, one message id per step."""

from __future__ import annotations

import uuid

from contracts import ExtractInvoice
from contracts.names import EXTRACT_SUBJECT, VALIDATE_SUBJECT, WORK_STREAM
from services.messaging.envelopes import command_envelope
from tests.validator.samples import validate_command


def test_a_command_goes_to_the_subject_of_its_step() -> None:
    extract = ExtractInvoice(
        task_id=f"task_{uuid.uuid4().hex}", filename="a.pdf", blob_url="http://x/blobs/1"
    )
    validate = validate_command(auto_save=True)

    first, second = command_envelope(extract), command_envelope(validate)

    assert (first.subject, first.stream) == (EXTRACT_SUBJECT, WORK_STREAM)
    assert first.headers == {"Nats-Msg-Id": f"{extract.task_id}:{EXTRACT_SUBJECT}"}
    assert ExtractInvoice.model_validate_json(first.body) == extract
    assert second.subject == VALIDATE_SUBJECT


def test_a_repeated_command_has_the_same_message_id() -> None:
    command = validate_command(auto_save=True)
    again = command.model_copy(update={"event_id": "another"})

    assert command_envelope(command).headers == command_envelope(again).headers
