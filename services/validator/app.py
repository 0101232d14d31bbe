"""Wiring of the validator: one worker on `invoices.validate`, one thin handler."""

from __future__ import annotations

from contracts import Stage, ValidateInvoice
from contracts.names import VALIDATE_CONSUMER, VALIDATE_SUBJECT
from services.common.worker import Worker
from services.validator import pipeline
from services.validator.settings import ValidatorSettings


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

    return worker
