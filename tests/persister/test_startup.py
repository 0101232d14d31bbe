"""A persister started while PostgreSQL is down waits, not ready, instead of crash-looping."""

from __future__ import annotations

import asyncio

import httpx

from deploy.embedded import free_port
from services.persister.app import build_worker
from services.persister.settings import PersisterSettings

TIMEOUT = 20.0


async def test_starting_without_a_database_waits_and_says_so(private_nats_url: str) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/invoiceflow"
    worker = build_worker(PersisterSettings(nats_url=private_nats_url, database_url=nowhere))
    starting = asyncio.create_task(worker.start())

    async def waiting() -> None:
        while worker.health.is_up("postgres"):
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(waiting(), TIMEOUT)
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"http://127.0.0.1:{worker.metrics_port}/readyz")
            alive = await http.get(f"http://127.0.0.1:{worker.metrics_port}/healthz")
        assert not starting.done()
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await worker.stop()

    assert alive.status_code == 200
    assert ready.status_code == 503 and "postgres" in ready.json()["down"]
