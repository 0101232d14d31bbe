"""API keys and tenant scoping."""

from __future__ import annotations

import pytest

from contracts import ProcessingOptions, TaskRecord
from services.gateway.auth import OPEN, ApiKeys, Caller, bearer, may_see
from services.gateway.errors import ApiError


def record(tenant: str | None) -> TaskRecord:
    return TaskRecord(
        task_id="task_" + "0" * 32,
        tenant=tenant,
        filename="a.pdf",
        token_sha256="0" * 64,
        blob_url="http://x.test/a.pdf",
        options=ProcessingOptions(),
    )


def test_without_keys_the_api_is_open() -> None:
    keys = ApiKeys({})

    assert not keys.enabled
    assert keys.caller(None) == OPEN
    assert keys.caller("Bearer anything") == OPEN


def test_a_key_names_its_tenant() -> None:
    keys = ApiKeys({"key1": "tenant-a", "key2": "tenant-b"})

    assert keys.caller("Bearer key1") == Caller("tenant-a")
    assert keys.caller("bearer  key2 ") == Caller("tenant-b")


def test_sockets_without_a_key_rely_on_tokens_and_a_wrong_key_is_refused() -> None:
    keys = ApiKeys({"key1": "tenant-a"})

    assert keys.socket_caller(None) == OPEN
    assert keys.socket_caller("key1") == Caller("tenant-a")
    assert keys.socket_caller("nope") is None
    assert keys.socket_caller("") is None
    assert ApiKeys({}).socket_caller("anything") == OPEN


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nope", "Basic key1", "key1"])
def test_a_missing_or_wrong_key_is_401(header: str | None) -> None:
    keys = ApiKeys({"key1": "tenant-a"})

    with pytest.raises(ApiError) as raised:
        keys.caller(header)

    assert raised.value.status == 401
    assert raised.value.code == "unauthorized"
    assert raised.value.headers == {"WWW-Authenticate": "Bearer"}


def test_bearer_parsing() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("Token abc") is None
    assert bearer(None) is None


def test_tenants_see_only_their_own_tasks() -> None:
    assert may_see(Caller("tenant-a"), record("tenant-a"))
    assert not may_see(Caller("tenant-b"), record("tenant-a"))
    assert not may_see(Caller("tenant-a"), record(None))
    assert may_see(OPEN, record(None))
