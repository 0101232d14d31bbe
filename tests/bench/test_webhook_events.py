"""bench.webhook_events runs: the task-events consumer drains a small load in both scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.webhook_events import scenario
from services.persister.webhook_store import Registration


@pytest.mark.parametrize(
    "registrations",
    [[], [Registration("wh_other", "other", frozenset({"task.completed"}))]],
    ids=["none", "elsewhere"],
)
async def test_the_consumer_drains_every_update(
    registrations: list[Registration], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await scenario("check", registrations, 5, tmp_path)
    assert "5 tasks (45 updates)" in capsys.readouterr().out
