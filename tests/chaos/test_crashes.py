"""Processes killed mid-run (SIGKILL, restarted at once): nothing is lost, saved twice or
missed by a client, and no task fails."""

from __future__ import annotations

import pytest

from testkit.drills import gateway_kill, worker_kill
from tests.chaos.conftest import Drill, assert_nothing_lost

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]


async def test_worker_replicas_killed(drill: Drill) -> None:
    result = await drill(worker_kill(kills=3))

    assert_nothing_lost(result)
    assert result.failed_total == 0, result.as_json()
    assert len(result.faults) == 3


async def test_gateway_killed_clients_resume(drill: Drill) -> None:
    result = await drill(gateway_kill(kills=1))

    assert_nothing_lost(result)
    assert result.failed_total == 0, result.as_json()
    assert result.reconnects > 0  # the clients' sockets did drop
