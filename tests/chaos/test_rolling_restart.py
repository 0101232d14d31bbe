"""A rolling restart of the workers (SIGTERM, restart, ready, next): nothing lost or failed,
and no task waits for a stopping replica."""

from __future__ import annotations

import pytest

from testkit.drills import DrillResult, rolling_restart
from testkit.stack import WORKERS
from tests.chaos.conftest import ACK_WAIT_SECONDS, Drill, assert_nothing_lost

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]


@pytest.fixture(scope="module")
async def restarted(drill: Drill) -> DrillResult:
    return await drill(rolling_restart(WORKERS), tasks=50)


async def test_rolling_restart_loses_and_fails_nothing(restarted: DrillResult) -> None:
    assert_nothing_lost(restarted)
    assert restarted.failed == {}, restarted.as_json()
    assert len(restarted.faults) == 2 * len(WORKERS)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="known defect: a worker stopped with SIGTERM keeps a message it pulled until "
    "ack_wait runs out (graceful drain, being fixed on main)",
)
async def test_rolling_restart_holds_no_task(restarted: DrillResult) -> None:
    # Without the defect a task waits for a model call (1 s) and the restart's blip, never
    # for ack_wait; with it, a message the stopping replica held comes back after ack_wait.
    bound = ACK_WAIT_SECONDS - 1
    assert restarted.max_first_update_wait < bound, restarted.max_first_update_wait
    assert restarted.max_silence < bound, restarted.max_silence
