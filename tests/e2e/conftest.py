"""The whole stack as separate processes on real NATS and PostgreSQL, with the fake model."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from testkit.contract_client import Socket
from testkit.model import fake_model as testkit_fake_model
from testkit.stack import Stack, Stacks

pytestmark = pytest.mark.e2e


@contextmanager
def fake_model(latency: float = 0.0) -> Iterator[str]:
    """The OpenAI-compatible test server as its own process; yields its /v1 base URL."""
    with testkit_fake_model(latency) as model:
        yield model.url


async def fresh_database(database_url: str) -> str:
    """A database of its own in the shared server, so stacks never see each other's rows."""
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base, _, query = database_url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@pytest.fixture
async def make_stack(database_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Stack]]:
    """Start stacks with a nats-server and database of their own; stop them all afterwards."""
    stacks = Stacks(await fresh_database(database_url), tmp_path)
    yield stacks.make
    stacks.stop()


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    with fake_model() as url:
        yield url


@pytest.fixture
def stack(make_stack: Callable[..., Stack], model_url: str) -> Stack:
    return make_stack(model_url)


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        yield client


@pytest.fixture
async def socket(stack: Stack) -> AsyncIterator[Socket]:
    connection = await Socket.connect(stack.ws_url)
    yield connection
    await connection.close()


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(stack.database_url)
    yield connection
    await connection.close()
