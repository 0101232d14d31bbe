"""The persist step of one task: store the invoice once; its result completes the task."""

from __future__ import annotations

from contracts import ErrorCode, PersistInvoice, Stage, TaskResult
from services.persister.database import DEPENDENCY, is_database_unavailable
from services.persister.repository import InvoiceNotStorableError, Repository, SaveOutcome
from services.telemetry.tracing import tracer
from services.worker.errors import DependencyUnavailableError, PermanentError
from services.worker.handler import StageReport


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
        evidence=extraction.evidence,
        einvoice=extraction.einvoice,
    )


NOT_STORABLE = (
    "the invoice cannot be stored: a value is out of range for the database (an amount too "
    "large, or a text with a NUL character)"
)


def saved_message(saved: SaveOutcome) -> str:
    message = "Saved" if saved.created else "Already saved"
    if saved.duplicate_of is not None:
        message += f" (duplicate of {saved.duplicate_of})"
    return message


async def handle(
    command: PersistInvoice, report: StageReport, repository: Repository
) -> TaskResult:
    async with report.stage(Stage.SAVE, "Saving") as save:
        try:
            with tracer().start_as_current_span("sql: save invoice"):
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
            raise PermanentError(ErrorCode.INVOICE_NOT_STORABLE, NOT_STORABLE) from exc
        except Exception as exc:
            if is_database_unavailable(exc):
                raise DependencyUnavailableError(
                    DEPENDENCY, "the database does not answer"
                ) from exc
            raise
        save.done(saved_message(saved))
    return saved_result(command, saved)
