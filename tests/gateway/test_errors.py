"""Every error is `{"error": {"code", "message"}}` JSON with its status, never HTML or a trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import nats.errors
import pytest

from services.gateway.settings import GatewaySettings
from tests.gateway.conftest import PDF, Running, running

SMALL = 1000  # max_file_bytes for the size tests


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    assert message
    assert "Traceback" not in response.text
    return message


@pytest.fixture
async def small(settings_for: Callable[..., GatewaySettings]) -> AsyncIterator[Running]:
    async with running(settings_for(max_file_bytes=SMALL, max_batch_files=2)) as started:
        yield started


async def test_unknown_route_is_404(app: Running) -> None:
    assert_error(await app.http.get("/api/nothing-here"), 404, "not_found")


async def test_wrong_method_is_405_with_allow(app: Running) -> None:
    response = await app.http.delete("/api/health")

    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


async def test_validation_errors_are_422(app: Running) -> None:
    response = await app.http.post("/api/invoices/upload", json={"filename": "a.pdf"})

    message = assert_error(response, 422, "validation_error")
    assert "blob_url" in message


async def test_malformed_json_is_422(app: Running) -> None:
    response = await app.http.post(
        "/api/invoices/upload", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert_error(response, 422, "validation_error")


async def test_wrong_type_is_415(app: Running) -> None:
    response = await app.http.post("/api/upload", files={"file": ("a.pdf", b"plain text")})

    assert_error(response, 415, "unsupported_media_type")


async def test_oversize_file_is_413(small: Running) -> None:
    too_big = PDF + b"x" * SMALL

    response = await small.http.post("/api/upload", files={"file": ("a.pdf", too_big)})

    assert_error(response, 413, "file_too_large")


async def test_oversize_body_is_refused_by_content_length_before_reading(small: Running) -> None:
    never = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"--boundary\r\n"
        await never.wait()  # reading on would hang the test: the limit must come first
        yield b""

    response = await asyncio.wait_for(
        small.http.post(
            "/api/upload",
            content=body(),
            headers={
                "content-type": "multipart/form-data; boundary=boundary",
                "content-length": str(100 * SMALL),
            },
        ),
        10,
    )

    assert_error(response, 413, "file_too_large")


async def test_oversize_chunked_body_is_cut_off_while_reading(small: Running) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(1000):
            yield b"x" * SMALL

    response = await small.http.post(
        "/api/invoices/upload", content=body(), headers={"content-type": "application/json"}
    )

    assert_error(response, 413, "payload_too_large")


async def test_too_many_files_is_413(small: Running) -> None:
    files = [("file", (f"{i}.pdf", PDF)) for i in range(3)]

    response = await small.http.post("/api/invoices", files=files)

    assert_error(response, 413, "too_many_files")


async def test_an_unexpected_failure_is_a_bare_500(
    app: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(task_id: str) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.gateway.tasks, "record", broken)

    response = await app.http.get("/api/invoices/status/task_" + "0" * 32)

    message = assert_error(response, 500, "internal_error")
    assert "secret" not in response.text and "secret" not in message


async def test_nats_trouble_is_503(app: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    async def unavailable(blob_id: str) -> None:
        raise nats.errors.TimeoutError

    monkeypatch.setattr(app.gateway.blobs, "open", unavailable)

    response = await app.http.get("/blobs/" + "0" * 64)

    assert_error(response, 503, "service_unavailable")
