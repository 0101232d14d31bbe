"""Fixtures for the validator tests: a running validator on a nats-server of the test's own
(its durable consumers must not meet other tests' messages)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext

from services.validator.app import build_worker
from services.validator.settings import ValidatorSettings
from services.worker.worker import Worker


@pytest.fixture
async def private_js(private_nats_url: str) -> AsyncIterator[JetStreamContext]:
    client = await nats.connect(private_nats_url)
    try:
        yield client.jetstream()
    finally:
        await client.drain()


@pytest.fixture
async def validator(private_nats_url: str) -> AsyncIterator[Worker]:
    settings = ValidatorSettings(
        nats_url=private_nats_url, ack_wait_seconds=5.0, max_deliver=3, retry_backoff_seconds=(0.1,)
    )
    worker = build_worker(settings)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()
