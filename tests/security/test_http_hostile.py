"""Hostile HTTP requests: each is refused with the JSON error shape and a code, never a 500,
a traceback or a body read that the request had no right to."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.gateway.conftest import (
    ALLOWED_ORIGIN,
    PDF,
    TIMEOUT,
    Running,
    Served,
    make_settings,
    running,
    served,
)
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
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/merge+json",
        "text/plain",
        None,
    ],
)
async def test_every_json_body_is_held_to_the_depth_limit(
    app: Running, content_type: str | None
) -> None:
    body = json.dumps({"blob_url": "http://files.test/a.pdf", "options": nested(100)})
    headers = {} if content_type is None else {"Content-Type": content_type}

    response = await app.http.post("/api/invoices/upload", content=body, headers=headers)

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


# --- CORS -----------------------------------------------------------------------------------


def preflight(origin: str, method: str = "POST", headers: str | None = None) -> dict[str, str]:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        asked["Access-Control-Request-Headers"] = headers
    return asked


async def test_a_foreign_preflight_is_refused_with_a_json_403(app: Running) -> None:
    response = await app.http.options("/api/invoices", headers=preflight("http://evil.test"))

    assert error_of(response) == (403, "origin_not_allowed")
    assert response.headers["content-type"] == "application/json"
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("method", "headers", "words"),
    [("DELETE", None, "this method"), ("POST", "X-Evil", "these request headers")],
)
async def test_a_preflight_asking_too_much_is_refused_with_a_json_400(
    app: Running, method: str, headers: str | None, words: str
) -> None:
    asked = preflight(ALLOWED_ORIGIN, method, headers)

    response = await app.http.options("/api/invoices", headers=asked)

    assert error_of(response) == (400, "cors_not_allowed")
    assert words in response.json()["error"]["message"]
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


async def test_an_allowed_preflight_still_passes(app: Running) -> None:
    asked = preflight(ALLOWED_ORIGIN, "POST", "Authorization, Content-Type")

    response = await app.http.options("/api/invoices", headers=asked)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


# --- API keys before bodies -----------------------------------------------------------------


async def test_a_request_without_a_key_is_refused_before_its_body_is_read(
    keyed: Running,
) -> None:
    read: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for index in range(50):  # 50 MB, were it all read
            read.append(index)
            yield b"x" * (1024 * 1024)

    for path in ("/api/upload", "/api/invoices", "/api/no-such-route"):
        read.clear()
        response = await keyed.http.post(
            path,
            content=body(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert error_of(response) == (401, "unauthorized"), path
        assert response.headers["www-authenticate"] == "Bearer"
        assert len(read) <= 1, path  # at most the first piece httpx hands over unasked


async def test_an_unknown_api_path_with_a_valid_key_is_404(keyed: Running) -> None:
    response = await keyed.http.get("/api/no-such-route", headers=AS_A)

    assert error_of(response) == (404, "not_found")
    health = await keyed.http.get("/api/health")
    assert health.status_code == 200


async def raw_request(server: Served, head: bytes, body: bytes = b"") -> bytes:
    """Sends `head` (and `body`) over a socket of its own; the answer until the server closes
    or has sent a whole answer's head."""
    port = int(server.base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    finally:
        writer.close()


@pytest.fixture
async def keyed_server(nats_url: str) -> AsyncIterator[Served]:
    async with served(make_settings(nats_url, api_keys=KEYS)) as started:
        yield started


@pytest.fixture
async def keyed(nats_url: str) -> AsyncIterator[Running]:
    """The same gateway as `keyed_server`, over ASGI: what the app reads can be counted."""
    async with running(make_settings(nats_url, api_keys=KEYS)) as started:
        yield started


async def test_a_50_mb_upload_without_a_key_is_answered_before_it_is_sent(
    keyed_server: Served,
) -> None:
    head = (
        b"POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 52428800\r\n\r\n"
    )

    answer = await raw_request(keyed_server, head, b"--b\r\n")

    assert answer.startswith(b"HTTP/1.1 401 ")


# --- framing oddities, handled by uvicorn before the app ------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"POST /api/invoices/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Content-Length: 50\r\n\r\n",
        b"POST /api/invoices/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        b"POST /api/invoices/upload HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Bad\x00Header: 1\r\n\r\n",
        b"GET /api/health HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 70_000 + b"\r\n\r\n",
    ],
    ids=["two-lengths", "length-and-chunked", "negative-length", "nul-in-header", "huge-header"],
)
async def test_malformed_framing_is_refused_not_served(keyed_server: Served, head: bytes) -> None:
    try:
        answer = await raw_request(keyed_server, head, b"hello")
    except (asyncio.IncompleteReadError, ConnectionError):
        return  # closed without an answer: refused too
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer


# --- messages are words and a code ----------------------------------------------------------

LIBRARY_WORDS = ("Value error", "Assertion failed", "Error:", "Exception", "Traceback", "DETAIL")


@pytest.mark.parametrize(
    ("corrections", "code"),
    [
        ({"total": "abc"}, "invalid_correction"),
        ({"line_items": [{"description": "x", "quantity": "many"}]}, "invalid_correction"),
        ({"vendor.name": "ACME\x00"}, "invoice_not_storable"),
        ({"total": "99999999999999999999.00"}, "invoice_not_storable"),
    ],
)
async def test_a_refused_review_says_why_in_words(
    stack: Stack, corrections: dict[str, Any], code: str
) -> None:
    invoice_id = await stack.save(tenant="tenant-a")
    body = {"decision": "reject", "reviewer": "r", "corrections": corrections}

    response = await stack.http.post(f"/api/invoices/{invoice_id}/review", json=body, headers=AS_A)

    assert error_of(response) == (422, code)
    message = response.json()["error"]["message"]
    assert message and not any(word in message for word in LIBRARY_WORDS), message


async def test_a_refused_body_says_why_in_words(app: Running) -> None:
    body = {"blob_url": "http://files.test/a.pdf", "options": {"confidence_threshold": 7}}

    response = await app.http.post("/api/invoices/upload", json=body)

    assert error_of(response) == (422, "validation_error")
    message = response.json()["error"]["message"]
    assert "confidence_threshold" in message
    assert not any(word in message for word in LIBRARY_WORDS), message
