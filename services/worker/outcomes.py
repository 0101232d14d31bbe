"""What becomes of a task after a step's handler: handed to the next step, completed, or
failed. One code path each, whichever step or replica gets there; knows nothing of NATS."""

from __future__ import annotations

import json

from contracts import Stage, Step, TaskDeadLettered, TaskError, TaskResult, UpdateType
from contracts.pipeline import COMPLETION, hands_over
from services.messaging.envelopes import Publish, command_envelope, dead_letter_envelope
from services.messaging.progress_log import ProgressLog
from services.telemetry.metrics import DEAD_LETTERS, TASKS_COMPLETED, TASKS_FAILED
from services.worker.handler import Command, StageHandler
from services.worker.report import StageReporter


async def advance(
    step: Step,
    handler: StageHandler[Command],
    command: Command,
    log: ProgressLog,
    publish: Publish,
) -> None:
    """Run the step's handler, then hand the task on or complete it, as the table allows."""
    outcome = await handler(command, StageReporter(step, log))
    if isinstance(outcome, TaskResult):
        if not step.completes:
            raise RuntimeError(f"the {step.name} step cannot complete a task")
        await complete_task(log, outcome)
        TASKS_COMPLETED.labels(step.name).inc()
        return
    if not hands_over(step, outcome):
        raise RuntimeError(f"the {step.name} step cannot hand over a {type(outcome).__name__}")
    # Our updates are stored before the next step's command exists, so its come after ours;
    # the mark spares it a read of the stream.
    await publish(command_envelope(outcome.model_copy(update={"progress_mark": log.mark()})))


async def complete_task(log: ProgressLog, result: TaskResult) -> None:
    message = "Done" if result.saved else "Done (not saved)"
    await log.append(
        UpdateType.COMPLETE, COMPLETION.stage, COMPLETION.start, message, result=result
    )


async def fail_task(
    log: ProgressLog,
    publish: Publish,
    *,
    step: Step,
    error: TaskError,
    deliveries: int,
    command: bytes,
) -> None:
    """End the task with one `error` update and keep the command as a dead letter."""
    await log.is_finished()  # where the task stands decides where the error sits
    last = log.last
    failed_stage = last.stage if last is not None and last.stage is not Stage.COMPLETE else None
    await log.append(
        UpdateType.ERROR,
        failed_stage or step.first_stage,
        last.progress if last else 0,
        error.message,
        error=error,
    )
    letter = TaskDeadLettered(
        task_id=log.task_id,
        consumer=step.consumer,
        subject=step.subject,
        error=error,
        deliveries=deliveries,
        command=json.loads(command) if command else {},
    )
    await publish(dead_letter_envelope(letter))
    TASKS_FAILED.labels(error.code).inc()
    DEAD_LETTERS.labels(step.consumer).inc()
