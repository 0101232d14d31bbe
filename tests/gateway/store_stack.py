"""The gateway with the real invoice store behind it: the persister and the validator in this
process, on the test's NATS server and PostgreSQL schema."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from services.persister.app import PersisterWorker
from services.persister.app import build_worker as build_persister
from services.persister.settings import PersisterSettings
from services.validator.app import build_worker as build_validator
from services.validator.settings import ValidatorSettings
from tests.gateway.conftest import Running, make_settings, running
from tests.persister.samples import save_sample

KEYS = {"key-a": "tenant-a", "key-b": "tenant-b"}
AS_A = {"Authorization": "Bearer key-a"}
AS_B = {"Authorization": "Bearer key-b"}


class Stack:
    def __init__(self, app: Running, persister: PersisterWorker) -> None:
        self.app = app
        self.http = app.http
        self.persister = persister

    async def save(self, tenant: str = "tenant-a", **changes: Any) -> str:
        return await save_sample(self.persister.repository, tenant, **changes)

    async def save_with_document(self, data: bytes, headers: dict[str, str]) -> str:
        """The sample invoice saved from `data`, uploaded through the gateway with `headers`
        (its caller's key): an invoice whose document and pages exist."""
        uploaded = await self.http.post(
            "/api/upload", files={"file": ("invoice", data)}, headers=headers
        )
        assert uploaded.status_code == 201, uploaded.text
        tenant = self.app.gateway.keys.caller(headers.get("Authorization")).tenant
        assert tenant is not None
        return await save_sample(
            self.persister.repository, tenant, file_sha256=uploaded.json()["sha256"]
        )


@contextlib.asynccontextmanager
async def store_workers(nats_url: str, dsn: str) -> AsyncIterator[PersisterWorker]:
    """The persister and the validator on `nats_url`: what the gateway's store talks to."""
    persister = build_persister(PersisterSettings(nats_url=nats_url, database_url=dsn))
    validator = build_validator(ValidatorSettings(nats_url=nats_url))
    await persister.start()
    await validator.start()
    try:
        yield persister
    finally:
        await validator.stop()
        await persister.stop()


@contextlib.asynccontextmanager
async def store_stack(nats_url: str, dsn: str, **gateway: Any) -> AsyncIterator[Stack]:
    async with (
        store_workers(nats_url, dsn) as persister,
        running(make_settings(nats_url, **gateway)) as app,
    ):
        yield Stack(app, persister)


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]
