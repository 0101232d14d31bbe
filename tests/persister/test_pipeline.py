"""The persist step without NATS or PostgreSQL: its updates, its result, its error mapping."""

from __future__ import annotations

from typing import Any, cast

import asyncpg
import pytest

from contracts import PersistInvoice, Stage, TaskResult, UpdateType
from contracts.pipeline import PERSIST
from services.persister import pipeline
from services.persister.repository import InvoiceNotStorableError, Repository, SaveOutcome
from services.worker.errors import DependencyUnavailableError, PermanentError
from services.worker.handler import StageHandler, StageReport
from tests.persister.samples import persist_command
from tests.support.stages import StepRun


def saving(repository: Repository) -> StageHandler[PersistInvoice]:
    async def save(command: PersistInvoice, report: StageReport) -> TaskResult:
        return await pipeline.handle(command, report, repository)

    return save


class StubRepository(Repository):
    def __init__(self, outcome: SaveOutcome | Exception) -> None:
        super().__init__(cast("asyncpg.Pool[asyncpg.Record]", None))
        self.outcome = outcome
        self.calls: list[dict[str, Any]] = []

    async def save_invoice(self, **kwargs: Any) -> SaveOutcome:
        self.calls.append(kwargs)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(("created", "message"), [(True, "Saved"), (False, "Already saved")])
async def test_saves_then_completes_with_the_invoice_id(created: bool, message: str) -> None:
    command = persist_command()
    repository = StubRepository(SaveOutcome(invoice_id="inv_" + "0" * 32, created=created))
    progress = StepRun(PERSIST)

    await progress(saving(repository), command)

    assert [(u.type, u.stage, u.progress, u.message) for u in progress.updates] == [
        (UpdateType.STAGE_START, Stage.SAVE, 90, "Saving"),
        (UpdateType.STAGE_COMPLETE, Stage.SAVE, 95, message),
        (UpdateType.COMPLETE, Stage.COMPLETE, 100, "Done"),
    ]
    result = progress.updates[-1].result
    assert result is not None
    assert result.saved is True and result.invoice_id == "inv_" + "0" * 32
    assert result.duplicate_of is None
    assert result.confidence == command.extraction.confidence
    [call] = repository.calls
    assert call["task_id"] == command.task_id and call["file_sha256"] == command.sha256
    assert call["tenant"] == "tenant-a" and call["validation"] == command.validation


async def test_values_the_database_refuses_fail_the_task_permanently() -> None:
    progress = StepRun(PERSIST)
    repository = StubRepository(InvoiceNotStorableError("numeric field overflow"))

    with pytest.raises(PermanentError) as raised:
        await progress(saving(repository), persist_command())

    assert raised.value.code == "invoice_not_storable"
    # Said in words; PostgreSQL's own text stays in the log (issue 10: no library text).
    assert "out of range" in raised.value.message
    assert "numeric field overflow" not in raised.value.message
    assert [u.type for u in progress.updates] == [UpdateType.STAGE_START]


async def test_a_database_that_does_not_answer_is_an_outage() -> None:
    progress = StepRun(PERSIST)
    repository = StubRepository(ConnectionRefusedError("database down"))

    with pytest.raises(DependencyUnavailableError) as raised:
        await progress(saving(repository), persist_command())

    assert raised.value.dependency == "postgres"
    assert [u.type for u in progress.updates] == [UpdateType.STAGE_START]


async def test_other_database_failures_are_left_to_the_retries() -> None:
    progress = StepRun(PERSIST)
    repository = StubRepository(RuntimeError("a bug"))

    with pytest.raises(RuntimeError):
        await progress(saving(repository), persist_command())
