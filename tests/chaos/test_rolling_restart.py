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


async def test_rolling_restart_holds_no_task(restarted: DrillResult) -> None:
    # A stopping replica hands back what it holds at once: no task waits out ack_wait (a held
    # message would come back only then, the shape this bound tells apart).
    bound = ACK_WAIT_SECONDS - 1
    assert restarted.max_first_update_wait < bound, restarted.max_first_update_wait
    assert restarted.max_silence < bound, restarted.max_silence
