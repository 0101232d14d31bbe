"""Hostile HTTP requests: each is refused with the JSON error shape and a code, never a 500,
a traceback or a body read that the request had no right to."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.gateway.conftest import PDF, Running, make_settings, running
from tests.gateway.store_stack import AS_A, KEYS, Stack, error_of, store_stack


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
async def stack(private_nats_url: str, schema_dsn: str) -> AsyncIterator[Stack]:
    async with store_stack(private_nats_url, schema_dsn, api_keys=KEYS) as started:
        yield started


@pytest.fixture
async def app(nats_url: str) -> AsyncIterator[Running]:
    async with running(make_settings(nats_url)) as started:
        yield started


# --- JSON nesting depth ---------------------------------------------------------------------


@pytest.mark.parametrize("depth", [40, 300, 5000])
async def test_a_review_with_a_deeply_nested_correction_is_refused(
    stack: Stack, depth: int
) -> None:
    invoice_id = await stack.save(tenant="tenant-a")
    deep = "[" * depth + "]" * depth
    body = '{"decision": "reject", "reviewer": "r", "corrections": {"note": ' + deep + "}}"

    response = await stack.http.post(
        f"/api/invoices/{invoice_id}/review",
        content=body,
        headers={**AS_A, "Content-Type": "application/json"},
    )

    assert error_of(response) == (422, "json_too_deep")
    assert "32 levels" in response.json()["error"]["message"]


async def test_a_review_nested_within_the_limit_gets_its_usual_answer(stack: Stack) -> None:
    invoice_id = await stack.save(tenant="tenant-a")
    body = {"decision": "reject", "reviewer": "r", "corrections": {"total": nested(20)}}

    response = await stack.http.post(f"/api/invoices/{invoice_id}/review", json=body, headers=AS_A)

    assert error_of(response) == (422, "invalid_correction")


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "text/plain"]
)
async def test_every_json_body_is_held_to_the_depth_limit(app: Running, content_type: str) -> None:
    body = json.dumps({"blob_url": "http://files.test/a.pdf", "options": nested(100)})

    response = await app.http.post(
        "/api/invoices/upload", content=body, headers={"Content-Type": content_type}
    )

    status, code = error_of(response)
    assert status == 422
    # A body that is not declared JSON is not parsed as JSON at all.
    assert code == ("validation_error" if content_type == "text/plain" else "json_too_deep")


async def test_brackets_inside_strings_do_not_count(app: Running) -> None:
    body = {"blob_url": "http://files.test/a.pdf", "filename": '\\"[[[' + "[" * 100 + ".pdf"}

    response = await app.http.post("/api/invoices/upload", json=body)

    assert response.status_code == 202, response.text


async def test_the_options_of_a_multipart_upload_are_held_to_the_depth_limit(
    app: Running,
) -> None:
    response = await app.http.post(
        "/api/invoices",
        files={"file": ("a.pdf", PDF, "application/pdf")},
        data={"options": json.dumps({"model": nested(300)})},
    )

    assert error_of(response) == (422, "json_too_deep")
