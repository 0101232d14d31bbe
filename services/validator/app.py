"""Wiring of the validator: a worker on `invoices.validate` and the rules on request."""

from __future__ import annotations

from contracts import Stage, ValidateInvoice, ValidationReport
from contracts.names import CHECK_INVOICE_SUBJECT, RULES_QUEUE, VALIDATE_CONSUMER, VALIDATE_SUBJECT
from contracts.store import CheckInvoice
from services.validator import pipeline, rules
from services.validator.settings import ValidatorSettings
from services.worker.worker import Worker


def build_worker(settings: ValidatorSettings) -> Worker:
    worker = Worker(
        settings,
        consumer=VALIDATE_CONSUMER,
        subject=VALIDATE_SUBJECT,
        first_stage=Stage.VALIDATION,
    )

    @worker.subscribe
    async def validate(command: ValidateInvoice) -> None:
        await worker.run_stage(command, pipeline.work(command, worker.broker))

    @worker.respond(CHECK_INVOICE_SUBJECT, RULES_QUEUE)
    async def check(request: CheckInvoice) -> ValidationReport:
        # A review re-validates the corrected invoice with the same rules as the pipeline.
        return rules.validate(request.invoice, request.confidence, request.threshold)

    return worker
