"""A node of a three-node JetStream cluster (R3 streams) SIGKILLed mid-run: the node leading the
work stream, down a few seconds and started again. Nothing is lost, saved twice or missed by a
client, and no task fails. Its own rig: the folder's shared one runs on a single nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from testkit.drills import DrillPostgres, DrillSettings, Rig, cluster_node_kill, run_drill
from testkit.model import fake_model
from tests.chaos.conftest import ENV, MODEL_LATENCY_SECONDS, TASKS, assert_nothing_lost

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]


@pytest.fixture
async def cluster_rig(
    drill_postgres: DrillPostgres, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Rig]:
    with fake_model(latency=MODEL_LATENCY_SECONDS) as model:
        workdir = tmp_path_factory.mktemp("chaos-cluster")
        async with Rig(workdir, drill_postgres, model.url, env=ENV, nats_cluster=3) as started:
            yield started


async def test_killing_the_work_stream_leader_loses_and_fails_nothing(cluster_rig: Rig) -> None:
    settings = DrillSettings(tasks=TASKS, sockets=5, deadline_seconds=60.0, seed=7)
    result = await run_drill(cluster_rig, cluster_node_kill(kills=1, down_seconds=3), settings)

    assert_nothing_lost(result)
    assert result.failed == {}, result.as_json()
    assert [f.action.split()[0] for f in result.faults] == ["SIGKILL"]
