"""The save stage of one task: store the invoice once, then complete the task."""

from __future__ import annotations

from contracts import ErrorCode, PersistInvoice, Stage, TaskResult, UpdateType
from services.messaging.progress_log import ProgressLog
from services.persister.repository import InvoiceNotStorableError, Repository, SaveOutcome
from services.worker.errors import PermanentError
from services.worker.runner import Work


def saved_result(command: PersistInvoice, saved: SaveOutcome) -> TaskResult:
    extraction = command.extraction
    return TaskResult(
        invoice=extraction.invoice,
        confidence=extraction.confidence,
        # As stored: a duplicate carries its `duplicate_invoice` warning.
        validation=saved.validation or command.validation,
        saved=True,
        invoice_id=saved.invoice_id,
        duplicate_of=saved.duplicate_of,
        provider=extraction.provider,
        usage=extraction.usage,
    )


def work(command: PersistInvoice, repository: Repository) -> Work:
    async def run(progress: ProgressLog) -> None:
        await progress.append(UpdateType.STAGE_START, Stage.SAVE, 90, "Saving")
        try:
            saved = await repository.save_invoice(
                task_id=command.task_id,
                tenant=command.tenant,
                filename=command.filename,
                file_sha256=command.sha256,
                extraction=command.extraction,
                validation=command.validation,
                confidence_threshold=command.options.confidence_threshold,
            )
        except InvoiceNotStorableError as exc:
            # The same values would be refused on every delivery: fail now, not after retries.
            raise PermanentError(
                ErrorCode.INVOICE_NOT_STORABLE, f"the invoice cannot be stored: {exc}"
            ) from exc
        message = "Saved" if saved.created else "Already saved"
        if saved.duplicate_of is not None:
            message += f" (duplicate of {saved.duplicate_of})"
        await progress.append(UpdateType.STAGE_COMPLETE, Stage.SAVE, 95, message)
        await progress.append(
            UpdateType.COMPLETE, Stage.COMPLETE, 100, "Done", result=saved_result(command, saved)
        )

    return run
