"""The validator process wiring against a real nats-server: work stream in, progress and the
persist command out."""

from __future__ import annotations

import uuid

from nats.js import JetStreamContext

from contracts import PersistInvoice, Stage, TaskUpdated, UpdateType, ValidateInvoice
from contracts.names import (
    PERSIST_SUBJECT,
    VALIDATE_CONSUMER,
    VALIDATE_SUBJECT,
    WORK_STREAM,
)
from services.messaging.progress_stream import progress_log, read_history
from services.worker.worker import Worker
from tests.support.waiting import updates_until_terminal, wait_until
from tests.validator.samples import validate_command


async def publish(js: JetStreamContext, command: ValidateInvoice) -> None:
    # Each call is a new message as far as the dedup window goes, like a redelivery would be.
    await js.publish(
        VALIDATE_SUBJECT,
        command.model_dump_json().encode(),
        stream=WORK_STREAM,
        headers={"Nats-Msg-Id": f"{command.task_id}:{uuid.uuid4().hex}"},
    )


async def history(js: JetStreamContext, task_id: str) -> list[TaskUpdated]:
    return [update for _, update in await read_history(js, task_id)]


async def validator_idle(js: JetStreamContext) -> bool:
    info = await js.consumer_info(WORK_STREAM, VALIDATE_CONSUMER)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_auto_save_publishes_one_persist_command(
    validator: Worker, private_js: JetStreamContext
) -> None:
    persister = await private_js.pull_subscribe(
        PERSIST_SUBJECT, durable="probe", stream=WORK_STREAM
    )
    command = validate_command(auto_save=True, due_date="2026-10-01")

    await publish(private_js, command)

    [msg] = await persister.fetch(1, timeout=15)
    persist = PersistInvoice.model_validate_json(msg.data)
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == f"{command.task_id}:{PERSIST_SUBJECT}"
    assert persist.task_id == command.task_id
    assert persist.extraction == command.extraction
    assert persist.validation.status == "invalid"
    assert [i.code for i in persist.validation.issues] == ["due_date_before_invoice_date"]
    # The persister finishes the task: the validator stops at 90.
    updates = await history(private_js, command.task_id)
    assert [(u.seq, u.type, u.stage, u.progress) for u in updates] == [
        (1, UpdateType.STAGE_START, Stage.VALIDATION, 80),
        (2, UpdateType.STAGE_COMPLETE, Stage.VALIDATION, 90),
    ]
    assert updates[-1].message == "1 issue"


async def test_without_auto_save_the_task_completes_unsaved(
    validator: Worker, private_js: JetStreamContext
) -> None:
    command = validate_command(auto_save=False)

    await publish(private_js, command)

    updates = await updates_until_terminal(private_js, command.task_id)
    assert [(u.seq, u.type, u.stage, u.progress) for u in updates] == [
        (1, UpdateType.STAGE_START, Stage.VALIDATION, 80),
        (2, UpdateType.STAGE_COMPLETE, Stage.VALIDATION, 90),
        (3, UpdateType.COMPLETE, Stage.COMPLETE, 100),
    ]
    result = updates[-1].result
    assert result is not None
    assert result.saved is False and result.invoice_id is None and result.duplicate_of is None
    assert result.validation.status == "valid" and result.validation.issues == []
    assert result.invoice == command.extraction.invoice
    assert result.provider == "local"
    # Acked after the `complete` update: the work-queue stream then drops the message.
    await wait_until(lambda: validator_idle(private_js))
    assert (await private_js.stream_info(WORK_STREAM)).state.messages == 0


async def test_progress_continues_after_the_extractor(
    validator: Worker, private_js: JetStreamContext
) -> None:
    command = validate_command(auto_save=False)
    extractor = progress_log(private_js, command.task_id)
    await extractor.append(UpdateType.STAGE_START, Stage.FETCH, 5, "Fetching")
    await extractor.append(UpdateType.STAGE_COMPLETE, Stage.LLM_EXTRACTION, 80, "Extracted")

    await publish(private_js, command)

    updates = await updates_until_terminal(private_js, command.task_id)
    assert [u.seq for u in updates] == [1, 2, 3, 4, 5]
    assert [u.progress for u in updates] == [5, 80, 80, 90, 100]
    assert updates[2].stage is Stage.VALIDATION


async def test_a_redelivered_command_publishes_nothing_twice(
    validator: Worker, private_js: JetStreamContext
) -> None:
    persister = await private_js.pull_subscribe(
        PERSIST_SUBJECT, durable="probe", stream=WORK_STREAM
    )
    command = validate_command(auto_save=True)

    await publish(private_js, command)
    await persister.fetch(1, timeout=15)  # the first run is through, not acked: still stored
    await publish(private_js, command)
    await wait_until(lambda: validator_idle(private_js))

    info = await private_js.stream_info(WORK_STREAM, subjects_filter=PERSIST_SUBJECT)
    assert info.state.subjects == {PERSIST_SUBJECT: 1}
    assert [u.seq for u in await history(private_js, command.task_id)] == [1, 2]


async def test_a_finished_task_is_not_validated_again(
    validator: Worker, private_js: JetStreamContext
) -> None:
    command = validate_command(auto_save=False)
    await publish(private_js, command)
    first = await updates_until_terminal(private_js, command.task_id)

    await publish(private_js, command)
    await wait_until(lambda: validator_idle(private_js))

    assert await history(private_js, command.task_id) == first
