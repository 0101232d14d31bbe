"""Wiring of the validator: its handler on the validate step and the rules on request."""

from __future__ import annotations

from contracts import ValidationReport
from contracts.names import CHECK_INVOICE_SUBJECT, RULES_QUEUE
from contracts.pipeline import VALIDATE
from contracts.store import CheckInvoice
from services.validator import pipeline, rules
from services.validator.settings import ValidatorSettings
from services.worker.worker import Worker


def build_worker(settings: ValidatorSettings) -> Worker:
    worker = Worker(settings, VALIDATE)
    worker.handle(pipeline.handle)

    @worker.respond(CHECK_INVOICE_SUBJECT, RULES_QUEUE)
    async def check(request: CheckInvoice) -> ValidationReport:
        # A review re-validates the corrected invoice with the same rules as the pipeline.
        return rules.validate(request.invoice, request.confidence, request.threshold)

    return worker
