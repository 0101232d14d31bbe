"""Short fault drills (testkit/drills.py) for `make test`: 40–50 tasks per scenario. One rig
serves the folder's drills one after the other (starting seven processes costs more than most
drills): its own nats-server, PostgreSQL (the drills stop and start both), two replicas of each
worker, one gateway and the fake model; every drill counts only its own tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from testkit.drills import (
    TWO_OF_EACH_WORKER,
    DrillPostgres,
    DrillResult,
    DrillSettings,
    Rig,
    Scenario,
    run_drill,
)
from testkit.model import fake_model

TASKS = 40
# A killed worker's messages come back after ack_wait: short, so a drill takes seconds.
ACK_WAIT_SECONDS = 5.0
# The whole retry budget (4.5 s) shorter than the outages, as the default one (23 s) is
# shorter than a two-minute outage.
ENV = {
    "INVOICEFLOW_ACK_WAIT_SECONDS": f"{ACK_WAIT_SECONDS:g}",
    "INVOICEFLOW_RETRY_BACKOFF_SECONDS": "[0.5, 1, 1, 2]",
}
# Long enough that kills and restarts land on model calls in flight.
MODEL_LATENCY_SECONDS = 1.0

Drill = Callable[..., Awaitable[DrillResult]]


@pytest.fixture(scope="package")
def drill_postgres() -> Iterator[DrillPostgres]:
    postgres = DrillPostgres().start()
    try:
        yield postgres
    finally:
        postgres.close()


@pytest.fixture(scope="package")
async def rig(
    drill_postgres: DrillPostgres, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Rig]:
    with fake_model(latency=MODEL_LATENCY_SECONDS) as model:
        workdir = tmp_path_factory.mktemp("chaos")
        async with Rig(
            workdir, drill_postgres, model.url, replicas=TWO_OF_EACH_WORKER, env=ENV
        ) as started:
            yield started


@pytest.fixture(scope="package")
def drill(rig: Rig) -> Drill:
    """Runs a scenario on the folder's rig and returns what the drill counted."""

    async def run(scenario: Scenario, *, tasks: int = TASKS) -> DrillResult:
        for service, count in scenario.replicas.items():
            assert len(rig.stack.replica_names(service)) >= count, scenario.name
        settings = DrillSettings(tasks=tasks, sockets=5, deadline_seconds=60.0, seed=7)
        return await run_drill(rig, scenario, settings)

    return run


def assert_nothing_lost(result: DrillResult) -> None:
    """Every task accepted and ended, saved once, and its client saw every update once."""
    summary = result.as_json()
    assert result.submitted == result.tasks and not result.submit_errors, summary
    assert result.stuck == 0 and result.lost == 0, summary
    assert result.undelivered == 0, summary
    assert result.duplicated == 0 and result.rows[">1"] == 0, summary
    assert result.completed_without_row == 0 and result.failed_with_row == 0, summary
    assert result.gaps == 0 and result.doubles == 0, summary
