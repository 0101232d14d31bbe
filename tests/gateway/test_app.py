"""The HTTP API of spec section 1, end to end through the app on a real nats-server."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from contracts import (
    ExtractInvoice,
    Invoice,
    ProcessingOptions,
    Stage,
    TaskResult,
    UpdateType,
    Usage,
    ValidationReport,
)
from contracts.names import EXTRACT_SUBJECT, WORK_STREAM
from deploy.embedded import EmbeddedNats, free_port
from services.gateway.settings import GatewaySettings
from services.messaging.progress_stream import progress_log
from tests.gateway.conftest import (
    ALLOWED_ORIGIN,
    PDF,
    PNG,
    Running,
    append_steps,
    make_settings,
    running,
)

BLOB_URL = "http://files.test/invoice.pdf"


async def trigger(http: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await http.post("/api/invoices/upload", json={"blob_url": BLOB_URL, **body})


async def last_extract(js: JetStreamContext) -> tuple[int, ExtractInvoice]:
    stored = await js.get_last_msg(WORK_STREAM, EXTRACT_SUBJECT)
    assert stored.data is not None and stored.seq is not None
    return stored.seq, ExtractInvoice.model_validate_json(stored.data)


# --- health -------------------------------------------------------------------------------


async def test_health_is_ok_while_nats_is_connected(app: Running) -> None:
    response = await app.http.get("/api/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["nats"] == "connected" and body["version"]


async def test_health_is_degraded_when_nats_goes_away(tmp_path: Path) -> None:
    nats_server = EmbeddedNats(tmp_path / "nats", free_port()).start()
    try:
        async with running(make_settings(nats_server.url)) as app:
            nc = app.gateway.nc
            gone = asyncio.Event()
            noticed = nc._disconnected_cb  # the gateway's own callback, kept and chained

            async def disconnected() -> None:
                gone.set()
                if noticed is not None:
                    await noticed()

            nc._disconnected_cb = disconnected
            nats_server.stop()
            await asyncio.wait_for(gone.wait(), 10)

            response = await app.http.get("/api/health")

            assert response.status_code == 503
            assert response.json()["status"] == "degraded"
            assert response.json()["nats"] != "connected"
    finally:
        nats_server.stop()


# --- blobs --------------------------------------------------------------------------------


async def test_upload_stores_the_file_and_serves_it_back(app: Running) -> None:
    response = await app.http.post("/api/upload", files={"file": ("scan.png", PNG, "image/png")})

    assert response.status_code == 201
    body = response.json()
    digest = hashlib.sha256(PNG).hexdigest()
    assert body == {
        "blob_url": f"http://gateway.test/blobs/{digest}",
        "blob_id": digest,
        "filename": "scan.png",
        "size": len(PNG),
        "content_type": "image/png",
        "sha256": digest,
    }
    served = await app.http.get(f"/blobs/{digest}")
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"


async def test_uploading_the_same_bytes_twice_gives_the_same_blob(app: Running) -> None:
    first = await app.http.post("/api/upload", files={"file": ("a.pdf", PDF)})
    second = await app.http.post("/api/upload", files={"file": ("copy.pdf", PDF)})

    assert first.json()["blob_id"] == second.json()["blob_id"]
    assert second.json()["filename"] == "copy.pdf"


async def test_blob_url_uses_the_public_url_when_set(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    async with running(settings_for(public_url="https://invoices.example.com/")) as app:
        response = await app.http.post("/api/upload", files={"file": ("a.pdf", PDF)})

    assert response.json()["blob_url"].startswith("https://invoices.example.com/blobs/")


async def test_upload_needs_a_file(app: Running) -> None:
    response = await app.http.post("/api/upload", data={"other": "x"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_unknown_blobs_are_404(app: Running) -> None:
    for blob_id in ("0" * 64, "not-a-digest"):
        response = await app.http.get(f"/blobs/{blob_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "blob_not_found"


# --- triggering tasks ---------------------------------------------------------------------


async def test_trigger_accepts_a_task_and_publishes_extract(
    app: Running, js: JetStreamContext
) -> None:
    response = await trigger(app.http, filename="invoice.pdf", options={"auto_save": False})

    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"task_id", "websocket_room", "token", "status"}
    assert body["websocket_room"] == body["task_id"] and body["status"] == "pending"
    _, command = await last_extract(js)
    assert command.task_id == body["task_id"]
    assert (command.blob_url, command.filename) == (BLOB_URL, "invoice.pdf")
    assert command.options == ProcessingOptions(auto_save=False)


async def test_trigger_without_options_or_filename_uses_defaults(
    app: Running, js: JetStreamContext
) -> None:
    response = await trigger(app.http)

    assert response.status_code == 202
    _, command = await last_extract(js)
    assert command.filename == "invoice.pdf"
    assert command.options == ProcessingOptions()


@pytest.mark.parametrize(
    "body",
    [
        {"options": {"colour": "blue"}},
        {"options": {"confidence_threshold": 2}},
        {"blob_url": "file:///etc/passwd"},
        {"blob_url": "javascript:alert(1)"},
        {"unexpected": True},
    ],
)
async def test_trigger_refuses_malformed_bodies_with_422(
    app: Running, body: dict[str, Any]
) -> None:
    response = await trigger(app.http, **body)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_batch_accepts_every_file_in_order(app: Running) -> None:
    files = [{"blob_url": f"http://files.test/{i}.pdf", "filename": f"{i}.pdf"} for i in range(3)]

    response = await app.http.post("/api/invoices/batch", json={"files": files})

    assert response.status_code == 202
    tasks = response.json()["tasks"]
    assert [t["filename"] for t in tasks] == ["0.pdf", "1.pdf", "2.pdf"]
    assert len({t["task_id"] for t in tasks}) == 3
    for task in tasks:
        assert set(task) == {"task_id", "websocket_room", "token", "filename", "status"}
        assert task["websocket_room"] == task["task_id"] and task["status"] == "pending"


async def test_batch_limits(settings_for: Callable[..., GatewaySettings]) -> None:
    async with running(settings_for(max_batch_files=2)) as app:
        too_many = [{"blob_url": BLOB_URL}] * 3
        response = await app.http.post("/api/invoices/batch", json={"files": too_many})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_many_files"

        empty = await app.http.post("/api/invoices/batch", json={"files": []})
        assert empty.status_code == 422


async def test_upload_and_trigger_in_one_call(app: Running, js: JetStreamContext) -> None:
    files = [("file", ("a.pdf", PDF, "application/pdf")), ("file", ("b.png", PNG, "image/png"))]

    response = await app.http.post(
        "/api/invoices", files=files, data={"options": '{"auto_save": false}'}
    )

    assert response.status_code == 202, response.text
    tasks = response.json()["tasks"]
    assert [t["filename"] for t in tasks] == ["a.pdf", "b.png"]
    record = await app.gateway.tasks.record(tasks[1]["task_id"])
    assert record is not None
    assert record.options == ProcessingOptions(auto_save=False)
    assert record.blob_url == f"http://gateway.test/blobs/{hashlib.sha256(PNG).hexdigest()}"
    served = await app.http.get(record.blob_url.removeprefix("http://gateway.test"))
    assert served.content == PNG


async def test_upload_and_trigger_is_all_or_nothing(app: Running, js: JetStreamContext) -> None:
    await trigger(app.http)
    before, _ = await last_extract(js)
    files = [("file", ("a.pdf", PDF)), ("file", ("notes.txt", b"just text"))]

    response = await app.http.post("/api/invoices", files=files)

    assert response.status_code == 415
    assert (await last_extract(js))[0] == before  # no task was started


async def test_upload_and_trigger_refuses_bad_options(app: Running) -> None:
    for options in ('{"auto_save": "perhaps"}', '{"nope": 1}', "not json"):
        response = await app.http.post(
            "/api/invoices", files=[("file", ("a.pdf", PDF))], data={"options": options}
        )
        assert response.status_code == 422, options
        assert response.json()["error"]["code"] == "validation_error"


# --- status -------------------------------------------------------------------------------


async def test_status_follows_the_task_from_pending_to_completed(
    app: Running, js: JetStreamContext
) -> None:
    task = (await trigger(app.http, filename="a.pdf")).json()
    url = f"/api/invoices/status/{task['task_id']}"

    pending = (await app.http.get(url)).json()
    assert (pending["status"], pending["progress"], pending["filename"]) == ("pending", 0, "a.pdf")

    log = progress_log(js, task["task_id"])
    await append_steps(log, 3)
    processing = (await app.http.get(url)).json()
    assert (processing["status"], processing["stage"], processing["progress"]) == (
        "processing",
        "llm_extraction",
        10,
    )

    result = TaskResult(
        invoice=Invoice.model_validate({"invoice_number": "INV-1", "total": "193.00"}),
        confidence={"total": 0.95},
        validation=ValidationReport(status="valid"),
        saved=False,
        invoice_id=None,
        duplicate_of=None,
        provider="local",
        usage=Usage(),
    )
    await log.append(UpdateType.COMPLETE, Stage.COMPLETE, 100, "Done", result=result)
    completed = (await app.http.get(url)).json()

    assert completed["status"] == "completed" and completed["progress"] == 100
    assert completed["result"]["invoice"]["total"] == "193.00"
    assert completed["error"] is None
    assert set(completed) == {
        "task_id", "filename", "status", "stage", "progress", "message", "result", "error",
        "updated_at",
    }  # fmt: skip


async def test_status_checks_the_token_when_given(app: Running) -> None:
    task = (await trigger(app.http)).json()
    url = f"/api/invoices/status/{task['task_id']}"

    assert (await app.http.get(url, params={"token": task["token"]})).status_code == 200
    wrong = await app.http.get(url, params={"token": "nope"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "invalid_token"


async def test_status_of_an_unknown_task_is_404(app: Running) -> None:
    for task_id in ("task_" + "0" * 32, "garbage"):
        response = await app.http.get(f"/api/invoices/status/{task_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "task_not_found"


# --- API keys and tenants -----------------------------------------------------------------


async def test_api_keys_guard_every_api_call_but_health(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    keys = {"key-a": "tenant-a", "key-b": "tenant-b"}
    async with running(settings_for(api_keys=keys)) as app:
        http = app.http
        assert (await http.get("/api/health")).status_code == 200
        unauthorised = await trigger(http)
        assert unauthorised.status_code == 401
        assert unauthorised.json()["error"]["code"] == "unauthorized"
        assert (await http.post("/api/upload", files={"file": ("a.pdf", PDF)})).status_code == 401

        as_a = {"Authorization": "Bearer key-a"}
        as_b = {"Authorization": "Bearer key-b"}
        response = await http.post(
            "/api/invoices/upload", json={"blob_url": BLOB_URL}, headers=as_a
        )
        assert response.status_code == 202
        task = response.json()
        url = f"/api/invoices/status/{task['task_id']}"

        assert (await http.get(url, headers=as_a)).status_code == 200
        # Tenant B sees nothing of tenant A's task, even holding its token.
        hidden = await http.get(url, headers=as_b, params={"token": task["token"]})
        assert hidden.status_code == 404
        assert (await http.get(url, headers={"Authorization": "Bearer wrong"})).status_code == 401
        record = await app.gateway.tasks.record(task["task_id"])
        assert record is not None and record.tenant == "tenant-a"


# --- page and CORS ------------------------------------------------------------------------


async def test_the_upload_page_is_served_at_the_root(app: Running) -> None:
    response = await app.http.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert '<script type="module" src="/static/app.js"' in response.text
    script = await app.http.get("/static/app.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    # The page speaks the spec's protocol: upload + trigger in one call, resume with after_seq.
    assert "/api/invoices" in script.text and "join_task" in script.text
    assert "after_seq" in script.text
    assert (await app.http.get("/static/app.css")).status_code == 200
    assert (await app.http.get("/static/nothing.js")).status_code == 404


async def test_the_review_workspace_is_served_for_the_list_and_each_invoice(app: Running) -> None:
    for path in ("/invoices", f"/invoices/inv_{'0' * 32}"):
        response = await app.http.get(path)

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        # Nothing from elsewhere; page images fetched with the API key are blob: URLs.
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "img-src 'self' data: blob:" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert '<script type="module" src="/static/invoices.js"' in response.text
    for asset, media_type in (("invoices.js", "text/javascript"), ("invoices.css", "text/css")):
        served = await app.http.get(f"/static/{asset}")
        assert served.status_code == 200
        assert served.headers["content-type"].startswith(media_type)
    script = (await app.http.get("/static/invoices.js")).text
    assert "/api/invoices/counts" in script and "/check" in script and "expected_version" in script


async def test_cors_allows_only_the_configured_origins(app: Running) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = await app.http.options(
        "/api/invoices", headers={"Origin": ALLOWED_ORIGIN, **preflight}
    )
    foreign = await app.http.options(
        "/api/invoices", headers={"Origin": "http://evil.test", **preflight}
    )

    assert allowed.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    assert "access-control-allow-origin" not in foreign.headers
