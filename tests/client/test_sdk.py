"""The SDK's HTTP side against a scripted gateway (`httpx.MockTransport`): requests and errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import pytest
from invoiceflow import (
    AsyncClient,
    Client,
    GatewayUnreachable,
    InvalidInput,
    InvoiceflowError,
    Options,
    Task,
)
from invoiceflow.watch import ws_url

from tests.client.fakes import Recorder, error_body

TASK = Task("task_" + "a" * 32, "tok", "a.pdf")


def accept(request: httpx.Request) -> httpx.Response:
    """`POST /api/invoices`: one task per uploaded file, named after it."""
    names = [
        part.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
        for part in request.content.split(b"Content-Disposition")[1:]
        if b'filename="' in part
    ]
    tasks = [
        {"task_id": f"task_{i:032x}", "token": f"t{i}", "filename": name, "status": "pending"}
        for i, name in enumerate(names)
    ]
    return httpx.Response(202, json={"tasks": tasks})


def files(tmp_path: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = tmp_path / f"f{index:02}.pdf"
        path.write_bytes(b"%PDF-1.4 " + bytes([index]))
        paths.append(path)
    return paths


async def test_an_error_body_becomes_an_invoiceflow_error() -> None:
    recorder = Recorder(lambda request: error_body(404, "task_not_found", "no task task_x"))
    async with AsyncClient("http://gw", transport=recorder.transport()) as client:
        with pytest.raises(InvoiceflowError) as caught:
            await client.status("task_x")
    assert (caught.value.status, caught.value.code) == (404, "task_not_found")
    assert caught.value.message == "no task task_x"
    assert str(caught.value) == "404 task_not_found: no task task_x"


async def test_a_body_that_is_not_the_usual_json_still_maps() -> None:
    recorder = Recorder(lambda request: httpx.Response(502, text="<html>Bad Gateway</html>"))
    async with AsyncClient("http://gw", transport=recorder.transport()) as client:
        with pytest.raises(InvoiceflowError) as caught:
            await client.health()
    assert (caught.value.status, caught.value.code) == (502, "http_error")
    assert "Bad Gateway" in caught.value.message


async def test_a_connection_failure_is_gateway_unreachable_naming_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request) from ConnectionRefusedError()

    async with AsyncClient("http://gw:9", transport=Recorder(refuse).transport()) as client:
        with pytest.raises(GatewayUnreachable) as caught:
            await client.invoice("inv_1")
    assert caught.value.url == "http://gw:9"
    assert "http://gw:9" in caught.value.message and "connection refused" in caught.value.message
    assert caught.value.status is None and caught.value.code == "gateway_unreachable"


async def test_missing_file_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    recorder = Recorder(accept)
    async with AsyncClient("http://gw", transport=recorder.transport()) as client:
        with pytest.raises(InvalidInput, match="file not found") as caught:
            await client.submit([*files(tmp_path, 1), tmp_path / "missing.pdf"])
        with pytest.raises(InvalidInput, match="not a regular file"):
            await client.submit([tmp_path])
        with pytest.raises(InvalidInput, match="no files"):
            await client.submit([])
    assert caught.value.code == "file_not_found"
    assert recorder.requests == []


async def test_submit_splits_over_the_batch_limit_and_sends_options(tmp_path: Path) -> None:
    recorder = Recorder(accept)
    paths = files(tmp_path, 45)
    options = Options(auto_save=False, confidence_threshold=0.5, model_provider="local")
    async with AsyncClient("http://gw", transport=recorder.transport()) as client:
        tasks = await client.submit(paths, options)
    assert [task.filename for task in tasks] == [path.name for path in paths]
    sizes = [request.content.count(b'name="file"') for request in recorder.requests]
    assert sizes == [20, 20, 5]
    for request in recorder.requests:
        assert (request.method, request.url.path) == ("POST", "/api/invoices")
        form = request.content.split(b'name="options"\r\n\r\n', 1)[1].split(b"\r\n", 1)[0]
        assert json.loads(form) == {
            "auto_save": False,
            "confidence_threshold": 0.5,
            "model_provider": "local",
        }


async def test_api_key_and_task_token_are_sent() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"status": "pending"}))
    async with AsyncClient("http://gw/", "k1", transport=recorder.transport()) as client:
        await client.status(TASK)
        await client.status(TASK.task_id)
    first, second = recorder.requests
    assert first.headers["Authorization"] == "Bearer k1"
    assert first.url.path == f"/api/invoices/status/{TASK.task_id}"
    assert first.url.params["token"] == "tok"
    assert "token" not in second.url.params


async def test_invoices_follow_the_cursor_and_stop_at_the_limit() -> None:
    pages = {
        None: {"items": [{"invoice_id": "i1"}, {"invoice_id": "i2"}], "next_cursor": "c1"},
        "c1": {"items": [{"invoice_id": "i3"}, {"invoice_id": "i4"}], "next_cursor": "c2"},
        "c2": {"items": [{"invoice_id": "i5"}], "next_cursor": None},
    }
    recorder = Recorder(
        lambda request: httpx.Response(200, json=pages[request.url.params.get("cursor")])
    )
    async with AsyncClient("http://gw", transport=recorder.transport()) as client:
        everything = [item["invoice_id"] async for item in client.invoices(vendor="acme")]
        first_three = [
            item["invoice_id"]
            async for item in client.invoices(
                status="needs_review", date_from=dt.date(2024, 1, 1), date_to="2024-12-31", limit=3
            )
        ]
        page = await client.invoices_page(duplicate=False, limit=2)
    assert everything == ["i1", "i2", "i3", "i4", "i5"]
    assert first_three == ["i1", "i2", "i3"]
    assert page.next_cursor == "c1" and len(page.items) == 2
    filtered = recorder.requests[3].url.params
    assert filtered["status"] == "needs_review" and filtered["date_from"] == "2024-01-01"
    assert filtered["date_to"] == "2024-12-31" and filtered["limit"] == "3"
    assert recorder.requests[-1].url.params["duplicate"] == "false"
    assert len(recorder.requests) == 3 + 2 + 1


async def test_review_posts_the_decision() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"status": "approved"}))
    async with AsyncClient("http://gw", transport=recorder.transport()) as client:
        stored = await client.review(
            "inv_1", "approve", "rita", {"total": "1.00"}, note="ok", expected_version=2
        )
    assert stored == {"status": "approved"}
    request = recorder.requests[0]
    assert request.url.path == "/api/invoices/inv_1/review"
    assert json.loads(request.content) == {
        "decision": "approve",
        "reviewer": "rita",
        "corrections": {"total": "1.00"},
        "note": "ok",
        "expected_version": 2,
    }


def test_the_sync_client_runs_the_async_one(tmp_path: Path) -> None:
    recorder = Recorder(
        lambda request: (
            accept(request)
            if request.method == "POST"
            else httpx.Response(200, json={"items": [{"invoice_id": "i1"}], "next_cursor": None})
        )
    )
    with Client("http://gw", transport=recorder.transport()) as client:
        tasks = client.submit(files(tmp_path, 2))
        listed = list(client.invoices())
    assert [task.filename for task in tasks] == ["f00.pdf", "f01.pdf"]
    assert listed == [{"invoice_id": "i1"}]


def test_ws_url_follows_the_base_url() -> None:
    assert ws_url("http://localhost:8000") == "ws://localhost:8000/ws"
    assert ws_url("https://example.com/flow/") == "wss://example.com/flow/ws"
