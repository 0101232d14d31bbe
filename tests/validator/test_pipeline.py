"""The validator's handler in memory: the real runtime over an in-memory progress store, the
save step's command recorded instead of published."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from contracts import (
    PersistInvoice,
    Stage,
    TaskUpdated,
    UpdateType,
    ValidateInvoice,
    ValidationReport,
)
from contracts.names import PERSIST_SUBJECT
from contracts.pipeline import VALIDATE
from services.validator import pipeline
from services.validator.pipeline import summary
from tests.support.stages import StepRun
from tests.validator.samples import validate_command


@dataclass
class InMemory:
    """The validate step run by the real runtime, its progress and publishes kept here."""

    run: StepRun = field(default_factory=lambda: StepRun(VALIDATE))

    @property
    def updates(self) -> list[TaskUpdated]:
        return self.run.updates

    @property
    def persisted(self) -> list[PersistInvoice]:
        return [
            PersistInvoice.model_validate_json(body)
            for subject, body, _ in self.run.published
            if subject == PERSIST_SUBJECT
        ]

    async def validate(self, command: ValidateInvoice) -> None:
        await self.run(pipeline.handle, command)


@pytest.fixture
def in_memory() -> InMemory:
    return InMemory()


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
