"""NATS and PostgreSQL going away mid-run: tasks wait for them and then complete."""

from __future__ import annotations

import pytest

from testkit.drills import DrillResult, nats_down, postgres_down
from tests.chaos.conftest import Drill, assert_nothing_lost

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]


async def test_nats_restart_delays_and_fails_nothing(drill: Drill) -> None:
    result = await drill(nats_down(0))

    assert_nothing_lost(result)
    assert result.failed == {}, result.as_json()


@pytest.fixture(scope="module")
async def postgres_outage(drill: Drill) -> DrillResult:
    return await drill(postgres_down(8))


async def test_postgres_outage_loses_nothing(postgres_outage: DrillResult) -> None:
    assert_nothing_lost(postgres_outage)


async def test_postgres_outage_fails_no_task(postgres_outage: DrillResult) -> None:
    assert postgres_outage.failed == {}, postgres_outage.failed
    assert postgres_outage.completed == postgres_outage.submitted
