"""The validator's handler and pipeline in memory: FastStream's TestNatsBroker and the progress
log over an in-memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from faststream.nats import TestNatsBroker

from contracts import (
    PersistInvoice,
    Stage,
    TaskUpdated,
    UpdateType,
    ValidateInvoice,
    ValidationReport,
)
from contracts.names import PERSIST_SUBJECT, VALIDATE_SUBJECT, WORK_STREAM
from services.validator.app import build_worker
from services.validator.pipeline import summary
from services.validator.settings import ValidatorSettings
from services.worker.worker import WORK_JSTREAM, Worker
from tests.support.progress import MemoryProgressStore
from tests.validator.samples import validate_command


@dataclass
class InMemory:
    worker: Worker
    progress: MemoryProgressStore = field(default_factory=MemoryProgressStore)
    persisted: list[PersistInvoice] = field(default_factory=list)

    @property
    def updates(self) -> list[TaskUpdated]:
        return self.progress.updates()

    async def validate(self, command: ValidateInvoice) -> None:
        await self.worker.broker.publish(
            command.model_dump_json().encode(), VALIDATE_SUBJECT, stream=WORK_STREAM
        )


@pytest.fixture
async def in_memory() -> AsyncIterator[InMemory]:
    worker = build_worker(ValidatorSettings(nats_url="nats://127.0.0.1:1"))
    harness = InMemory(worker)
    worker.progress_store = harness.progress

    @worker.broker.subscriber(PERSIST_SUBJECT, stream=WORK_JSTREAM)
    async def capture(command: PersistInvoice) -> None:
        harness.persisted.append(command)

    async with TestNatsBroker(worker.broker):
        yield harness


async def test_auto_save_hands_the_report_to_the_persister(in_memory: InMemory) -> None:
    command = validate_command(auto_save=True, total="125.00")

    await in_memory.validate(command)

    assert [(u.type, u.stage, u.progress) for u in in_memory.updates] == [
        (UpdateType.STAGE_START, Stage.VALIDATION, 80),
        (UpdateType.STAGE_COMPLETE, Stage.VALIDATION, 90),
    ]
    assert in_memory.updates[-1].message == "1 issue"
    [persist] = in_memory.persisted
    assert persist.task_id == command.task_id
    assert persist.extraction == command.extraction
    assert persist.tenant == command.tenant and persist.sha256 == command.sha256
    assert persist.options == command.options
    assert persist.validation.status == "invalid"
    assert [i.code for i in persist.validation.issues] == ["total_mismatch"]


async def test_without_auto_save_the_task_completes_unsaved(in_memory: InMemory) -> None:
    command = validate_command(auto_save=False, confidence={"vendor.name": 0.3})

    await in_memory.validate(command)

    assert in_memory.persisted == []
    assert [(u.type, u.stage, u.progress) for u in in_memory.updates] == [
        (UpdateType.STAGE_START, Stage.VALIDATION, 80),
        (UpdateType.STAGE_COMPLETE, Stage.VALIDATION, 90),
        (UpdateType.COMPLETE, Stage.COMPLETE, 100),
    ]
    result = in_memory.updates[-1].result
    assert result is not None
    assert result.saved is False and result.invoice_id is None and result.duplicate_of is None
    assert result.invoice == command.extraction.invoice
    assert result.confidence == {"vendor.name": 0.3}
    assert result.provider == "local" and result.usage.output_tokens == 7
    assert result.validation.status == "needs_review"
    assert [(i.code, i.field) for i in result.validation.issues] == [
        ("low_confidence", "vendor.name")
    ]


async def test_a_valid_invoice_says_so(in_memory: InMemory) -> None:
    await in_memory.validate(validate_command(auto_save=True))

    assert in_memory.updates[-1].message == "valid"
    assert in_memory.persisted[0].validation.status == "valid"


def test_summary_counts_issues() -> None:
    def report(count: int) -> ValidationReport:
        issue = {"code": "low_confidence", "field": "total", "message": "m", "severity": "warning"}
        return ValidationReport.model_validate(
            {"status": "needs_review" if count else "valid", "issues": [issue] * count}
        )

    assert [summary(report(n)) for n in (0, 1, 2)] == ["valid", "1 issue", "2 issues"]
