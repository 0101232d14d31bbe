"""The gateway's /healthz, /readyz, /metrics, and its prompt 503 while the broker is away."""

from __future__ import annotations

import asyncio
from pathlib import Path

from deploy.embedded import EmbeddedNats, free_port
from tests.gateway.conftest import PNG, make_settings, running

TIMEOUT = 20.0


async def test_health_readiness_and_metrics(nats_url: str) -> None:
    async with running(make_settings(nats_url)) as gw:
        alive = await gw.http.get("/healthz")
        ready = await gw.http.get("/readyz")
        await gw.http.post("/api/upload", files={"file": ("a.png", PNG, "image/png")})
        metrics = await gw.http.get("/metrics")
        gw.gateway.health.drain()
        draining = await gw.http.get("/readyz")

    assert alive.status_code == 200 and alive.json() == {"alive": True}
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert metrics.status_code == 200 and "invoiceflow_tasks_accepted_total" in metrics.text
    assert draining.status_code == 503 and draining.json()["draining"] is True


async def test_while_the_broker_is_away_work_is_refused_at_once_with_retry_after(
    tmp_path: Path,
) -> None:
    server = EmbeddedNats(tmp_path / "nats", free_port()).start()
    try:
        async with running(make_settings(server.url)) as gw:
            server.stop()

            async def disconnected() -> None:
                while gw.gateway.nc.is_connected:
                    await asyncio.sleep(0.02)

            await asyncio.wait_for(disconnected(), TIMEOUT)
            upload = await gw.http.post("/api/upload", files={"file": ("a.png", PNG, "image/png")})
            status = await gw.http.get("/api/invoices/status/task_" + "0" * 32)
            ready = await gw.http.get("/readyz")
    finally:
        server.stop()

    for answer in (upload, status):
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "2"
        assert answer.json()["error"]["code"] == "service_unavailable"
    assert ready.status_code == 503 and ready.json()["nats"] is False
