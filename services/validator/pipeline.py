"""The validation stage of one task: progress, the rules, then the next step."""

from __future__ import annotations

from faststream.nats import NatsBroker

from contracts import (
    PersistInvoice,
    ProgressMark,
    Stage,
    TaskResult,
    UpdateType,
    ValidateInvoice,
    ValidationReport,
)
from contracts.names import PERSIST_SUBJECT
from services.messaging.progress_log import ProgressLog
from services.validator import rules
from services.worker.runner import Work, publish_command


def summary(report: ValidationReport) -> str:
    count = len(report.issues)
    if count == 0:
        return "valid"
    return f"{count} issue" if count == 1 else f"{count} issues"


def persist_command(
    command: ValidateInvoice, report: ValidationReport, mark: ProgressMark | None = None
) -> PersistInvoice:
    return PersistInvoice(
        task_id=command.task_id,
        tenant=command.tenant,
        filename=command.filename,
        options=command.options,
        extraction=command.extraction,
        validation=report,
        sha256=command.sha256,
        progress_mark=mark,
    )


def unsaved_result(command: ValidateInvoice, report: ValidationReport) -> TaskResult:
    extraction = command.extraction
    return TaskResult(
        invoice=extraction.invoice,
        confidence=extraction.confidence,
        validation=report,
        saved=False,
        invoice_id=None,
        duplicate_of=None,
        provider=extraction.provider,
        usage=extraction.usage,
    )


def work(command: ValidateInvoice, broker: NatsBroker) -> Work:
    async def run(progress: ProgressLog) -> None:
        await progress.append(UpdateType.STAGE_START, Stage.VALIDATION, 80, "Validating")
        extraction = command.extraction
        report = rules.validate(
            extraction.invoice, extraction.confidence, command.options.confidence_threshold
        )
        await progress.append(UpdateType.STAGE_COMPLETE, Stage.VALIDATION, 90, summary(report))
        if command.options.auto_save:
            # The persister finishes the task; a redelivery's duplicate is dropped by Nats-Msg-Id.
            await publish_command(
                broker, PERSIST_SUBJECT, persist_command(command, report, progress.mark())
            )
            return
        await progress.append(
            UpdateType.COMPLETE,
            Stage.COMPLETE,
            100,
            "Done (not saved)",
            result=unsaved_result(command, report),
        )

    return run
