"""What becomes of a task after a handler: handed on, completed or failed (no NATS)."""

from __future__ import annotations

import pytest

from contracts import (
    PersistInvoice,
    TaskDeadLettered,
    TaskResult,
    UpdateType,
    ValidateInvoice,
    task_error,
)
from contracts.names import DEAD_LETTER_STREAM, PERSIST_SUBJECT, WORK_STREAM
from contracts.pipeline import EXTRACT, PERSIST, VALIDATE
from services.messaging.envelopes import Envelope
from services.messaging.progress_log import ProgressLog
from services.validator.pipeline import persist_command, unsaved_result
from services.worker.handler import StageReport
from services.worker.outcomes import fail_task
from tests.persister.samples import persist_command as sample_persist
from tests.support.progress import MemoryProgressStore
from tests.support.stages import StepRun
from tests.validator.samples import validate_command


async def test_the_next_command_carries_where_progress_stands() -> None:
    command = validate_command(auto_save=True)

    async def hand_on(cmd: ValidateInvoice, report: StageReport) -> PersistInvoice:
        async with report.stage(VALIDATE.first_stage, "Validating"):
            pass
        return persist_command(cmd, sample_persist().validation)

    run = StepRun(VALIDATE)
    await run(hand_on, command)

    [(subject, body, kwargs)] = run.published
    assert subject == PERSIST_SUBJECT and kwargs["stream"] == WORK_STREAM
    assert kwargs["headers"] == {"Nats-Msg-Id": f"{command.task_id}:{PERSIST_SUBJECT}"}
    mark = PersistInvoice.model_validate_json(body).progress_mark
    assert mark is not None and mark.last == run.updates[-1] and mark.stream_seq == 2


@pytest.mark.parametrize(("saved", "message"), [(True, "Done"), (False, "Done (not saved)")])
async def test_a_result_completes_the_task(saved: bool, message: str) -> None:
    command = validate_command(auto_save=True)
    result = unsaved_result(command, sample_persist().validation).model_copy(
        update={"saved": saved}
    )

    async def finish(cmd: ValidateInvoice, report: StageReport) -> TaskResult:
        return result

    run = StepRun(VALIDATE)
    await run(finish, command)

    [update] = run.updates
    assert (update.type, update.stage, update.progress) == (UpdateType.COMPLETE, "complete", 100)
    assert update.message == message and update.result == result
    assert run.published == []


async def test_a_step_cannot_do_what_the_table_does_not_allow() -> None:
    async def complete_early(cmd: ValidateInvoice, report: StageReport) -> TaskResult:
        return unsaved_result(cmd, sample_persist().validation)

    async def skip_a_step(cmd: ValidateInvoice, report: StageReport) -> PersistInvoice:
        return persist_command(cmd, sample_persist().validation)

    with pytest.raises(RuntimeError, match="cannot complete"):
        await StepRun(EXTRACT)(complete_early, validate_command(auto_save=True))
    with pytest.raises(RuntimeError, match="cannot hand over"):
        await StepRun(PERSIST)(skip_a_step, validate_command(auto_save=True))


async def test_failing_ends_the_task_where_it_stood_and_keeps_a_dead_letter() -> None:
    store = MemoryProgressStore()
    command = validate_command(auto_save=True)
    log = ProgressLog(store, command.task_id)
    letters: list[Envelope] = []

    async def publish(envelope: Envelope) -> None:
        letters.append(envelope)

    async def stop_midway(cmd: ValidateInvoice, report: StageReport) -> TaskResult:
        async with report.stage(VALIDATE.first_stage, "Validating"):
            raise RuntimeError("rules crashed")

    with pytest.raises(RuntimeError):
        await StepRun(VALIDATE, store)(stop_midway, command)
    error = task_error("internal_error", "the rules failed")
    await fail_task(
        ProgressLog(store, command.task_id),
        publish,
        step=VALIDATE,
        error=error,
        deliveries=3,
        command=command.model_dump_json().encode(),
    )

    assert store.seen() == [("stage_start", "validation", 80), ("error", "validation", 80)]
    assert store.updates()[-1].error == error and log.task_id == command.task_id
    [letter] = letters
    assert letter.stream == DEAD_LETTER_STREAM
    assert letter.headers == {"Nats-Msg-Id": f"{command.task_id}:validator:dead_letter"}
    dead = TaskDeadLettered.model_validate_json(letter.body)
    assert dead.deliveries == 3 and dead.command["task_id"] == command.task_id


async def test_a_task_that_never_started_fails_at_its_steps_first_stage() -> None:
    store = MemoryProgressStore()

    async def ignore(envelope: Envelope) -> None:
        return None

    await fail_task(
        ProgressLog(store, "task_" + "2" * 32),
        ignore,
        step=EXTRACT,
        error=task_error("retries_exhausted", "no worker finished"),
        deliveries=5,
        command=b"",
    )

    assert store.seen() == [("error", "fetch", 0)]
