"""The validate step of one task: the rules, then the save step's command, or the task's
result when it is not to be saved."""

from __future__ import annotations

from contracts import (
    PersistInvoice,
    Stage,
    TaskResult,
    ValidateInvoice,
    ValidationReport,
)
from services.validator import rules
from services.worker.handler import StageReport


def summary(report: ValidationReport) -> str:
    count = len(report.issues)
    if count == 0:
        return "valid"
    return f"{count} issue" if count == 1 else f"{count} issues"


def persist_command(command: ValidateInvoice, report: ValidationReport) -> PersistInvoice:
    return PersistInvoice(
        task_id=command.task_id,
        tenant=command.tenant,
        filename=command.filename,
        options=command.options,
        extraction=command.extraction,
        validation=report,
        sha256=command.sha256,
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
        evidence=extraction.evidence,
        einvoice=extraction.einvoice,
    )


async def handle(command: ValidateInvoice, report: StageReport) -> PersistInvoice | TaskResult:
    async with report.stage(Stage.VALIDATION, "Validating") as validation:
        extraction = command.extraction
        found = rules.with_einvoice_findings(
            rules.validate(
                extraction.invoice, extraction.confidence, command.options.confidence_threshold
            ),
            extraction.einvoice,
        )
        validation.done(summary(found))
    if command.options.auto_save:
        return persist_command(command, found)
    return unsaved_result(command, found)
