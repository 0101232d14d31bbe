"""A client written only from the public contract drives the whole stack."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest

from testkit.contract_client import Socket, assert_contiguous, trigger, upload
from testkit.stack import Stack
from tests.e2e.documents import invoice_png, text_pdf

pytestmark = pytest.mark.e2e

STAGES = ["fetch", "llm_extraction", "validation", "save", "complete"]


def stages_seen(updates: list[dict[str, object]]) -> list[str]:
    seen: list[str] = []
    for update in updates:
        if update["stage"] not in seen:
            seen.append(str(update["stage"]))
    return seen


async def test_image_goes_from_upload_to_a_saved_invoice(
    http: httpx.AsyncClient, socket: Socket, db: asyncpg.Connection
) -> None:
    blob = await upload(http, "invoice.png", invoice_png("image"), "image/png")
    assert blob["content_type"] == "image/png" and len(blob["sha256"]) == 64
    task = await trigger(http, blob["blob_url"], "invoice.png")
    assert task["status"] == "pending" and task["websocket_room"] == task["task_id"]

    joined = await socket.join(task["task_id"], task["token"])
    assert joined == {"event": "joined_task", "data": {"task_id": task["task_id"]}}
    updates = await socket.until_done(task["task_id"])

    assert_contiguous(updates)
    assert stages_seen(updates) == STAGES
    final = updates[-1]
    assert final["type"] == "complete" and final["progress"] == 100
    result = final["result"]
    assert result["saved"] is True and result["provider"] == "openai"
    assert result["invoice"]["total"] == "193.00"
    assert result["validation"]["status"] in ("valid", "needs_review")
    assert result["usage"]["input_tokens"] > 0
    rows = await db.fetch("SELECT id, total FROM invoices WHERE task_id = $1", task["task_id"])
    assert len(rows) == 1 and rows[0]["id"] == result["invoice_id"]

    status = (await http.get(f"/api/invoices/status/{task['task_id']}")).json()
    assert status["status"] == "completed" and status["progress"] == 100
    assert status["result"]["invoice_id"] == result["invoice_id"]
    assert status["filename"] == "invoice.png"


async def test_pdf_with_a_text_layer_completes(http: httpx.AsyncClient, socket: Socket) -> None:
    blob = await upload(http, "invoice.pdf", text_pdf(), "application/pdf")
    assert blob["content_type"] == "application/pdf"
    task = await trigger(http, blob["blob_url"], "invoice.pdf")
    await socket.join(task["task_id"], task["token"])

    updates = await socket.until_done(task["task_id"])

    assert updates[-1]["type"] == "complete", updates[-1]
    assert_contiguous(updates)


async def test_late_joiner_and_resume_see_everything_once(
    http: httpx.AsyncClient, socket: Socket, stack: Stack
) -> None:
    blob = await upload(http, "late.png", invoice_png("late"), "image/png")
    task = await trigger(http, blob["blob_url"], "late.png")
    await socket.join(task["task_id"], task["token"])
    live = await socket.until_done(task["task_id"])

    # Joins after the task finished: the whole history, in order, once.
    late = await Socket.connect(stack.ws_url)
    try:
        await late.join(task["task_id"], task["token"])
        replayed = await late.until_done(task["task_id"])
        assert replayed == live
        # A client that saw up to seq 3 before a drop resumes from there.
        resumed = await Socket.connect(stack.ws_url)
        try:
            await resumed.join(task["task_id"], task["token"], after_seq=3)
            rest = await resumed.until_done(task["task_id"])
            assert [u["seq"] for u in rest] == [u["seq"] for u in live if u["seq"] > 3]
        finally:
            await resumed.close()
    finally:
        await late.close()


async def test_wrong_token_gets_an_error_and_the_socket_stays(
    http: httpx.AsyncClient, socket: Socket
) -> None:
    blob = await upload(http, "token.png", invoice_png("token"), "image/png")
    task = await trigger(http, blob["blob_url"], "token.png")

    refused = await socket.join(task["task_id"], "not-the-token")

    assert refused["event"] == "error" and refused["data"]["code"]
    await socket.send("ping", {})
    assert (await socket.next_other())["event"] == "pong"
    joined = await socket.join(task["task_id"], task["token"])
    assert joined["event"] == "joined_task"


async def test_batch_upload_runs_every_file(http: httpx.AsyncClient, socket: Socket) -> None:
    files = [("file", (f"b{i}.png", invoice_png(f"batch {i}"), "image/png")) for i in range(3)]
    response = await http.post(
        "/api/invoices", files=files, data={"options": '{"auto_save": false}'}
    )
    assert response.status_code == 202, response.text
    tasks = response.json()["tasks"]
    assert [t["filename"] for t in tasks] == ["b0.png", "b1.png", "b2.png"]

    for task in tasks:
        await socket.join(task["task_id"], task["token"])
    for task in tasks:
        updates = await socket.until_done(task["task_id"])
        assert updates[-1]["type"] == "complete"
        assert updates[-1]["result"]["saved"] is False  # auto_save false: no save stage
        assert "save" not in stages_seen(updates)


async def test_a_refusal_ends_the_task_with_a_coded_error(
    http: httpx.AsyncClient, socket: Socket
) -> None:
    blob = await upload(http, "refuse.png", invoice_png("refuse"), "image/png")
    task = await trigger(http, blob["blob_url"], "refuse.png", model="fake-refuse")
    await socket.join(task["task_id"], task["token"])

    updates = await socket.until_done(task["task_id"])

    assert_contiguous(updates)
    assert updates[-1]["type"] == "error"
    assert updates[-1]["error"]["code"] == "provider_refused"
    status = (await http.get(f"/api/invoices/status/{task['task_id']}")).json()
    assert status["status"] == "error" and status["error"]["code"] == "provider_refused"


async def test_local_provider_reads_a_real_receipt(
    http: httpx.AsyncClient, socket: Socket, receipts_dev: Path
) -> None:
    content = (receipts_dev / "images" / "receipt-000.jpg").read_bytes()
    blob = await upload(http, "receipt-000.jpg", content, "image/jpeg")
    task = await trigger(http, blob["blob_url"], "receipt-000.jpg", model_provider="local")
    await socket.join(task["task_id"], task["token"])

    updates = await socket.until_done(task["task_id"], timeout=120)

    assert updates[-1]["type"] == "complete", updates[-1]
    result = updates[-1]["result"]
    assert result["provider"] == "local"
    assert result["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert result["invoice"]["total"] == "153.35"


async def test_a_saved_invoice_is_found_reviewed_and_a_second_copy_flagged(
    http: httpx.AsyncClient, socket: Socket
) -> None:
    png = invoice_png("review")

    async def run_once(name: str) -> dict[str, object]:
        blob = await upload(http, name, png, "image/png")
        task = await trigger(http, blob["blob_url"], name)
        await socket.join(task["task_id"], task["token"])
        final = (await socket.until_done(task["task_id"]))[-1]
        assert final["type"] == "complete"
        result: dict[str, object] = final["result"]  # type: ignore[assignment]
        return result

    first = await run_once("first.png")
    second = await run_once("second.png")

    # The same file again: saved, flagged, never dropped.
    assert second["saved"] is True and second["duplicate_of"] == first["invoice_id"]
    listed = (await http.get("/api/invoices", params={"duplicate": "true"})).json()
    assert second["invoice_id"] in [item["invoice_id"] for item in listed["items"]]

    one = await http.get(f"/api/invoices/{first['invoice_id']}")
    assert one.status_code == 200
    saved = one.json()
    assert saved["invoice"]["total"] == "193.00" and saved["invoice"]["line_items"]

    review = {
        "decision": "reject",
        "reviewer": "e2e",
        "corrections": {"invoice_number": "INV-REVIEWED"},
        "expected_version": saved["version"],
    }
    reviewed = await http.post(f"/api/invoices/{first['invoice_id']}/review", json=review)
    assert reviewed.status_code == 200, reviewed.text
    body = reviewed.json()
    assert body["status"] == "rejected" and body["invoice"]["invoice_number"] == "INV-REVIEWED"
    assert body["reviews"][0]["changes"][0]["field"] == "invoice_number"
