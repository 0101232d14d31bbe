"""The SDK against the whole stack: submit, watch, wait, status and the saved invoices agree;
a watch survives the gateway being killed and restarted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invoiceflow import AsyncClient, Task

from testkit.stack import Stack
from tests.e2e.conftest import fake_model
from tests.e2e.documents import invoice_png, text_pdf

pytestmark = pytest.mark.e2e


def assert_once_each(updates: list[dict[str, Any]]) -> None:
    """seq 1..N, each once; one terminal update, the last, a `complete` with a result."""
    assert [u["seq"] for u in updates] == list(range(1, len(updates) + 1)), updates
    assert [u["type"] in ("complete", "error") for u in updates].count(True) == 1
    assert updates[-1]["type"] == "complete" and updates[-1]["progress"] == 100
    assert updates[-1]["result"]["invoice"]["total"] == "193.00"


async def test_submit_watch_wait_status_and_invoices_agree(
    make_stack: Callable[..., Stack], model_url: str, tmp_path: Path
) -> None:
    stack = make_stack(model_url)
    png, pdf = tmp_path / "sdk-invoice.png", tmp_path / "sdk-invoice.pdf"
    png.write_bytes(invoice_png("sdk"))
    pdf.write_bytes(text_pdf())
    async with AsyncClient(stack.base_url, timeout=30) as client:
        tasks = await client.submit([png, pdf])
        assert [task.filename for task in tasks] == ["sdk-invoice.png", "sdk-invoice.pdf"]
        invoice_ids = []
        for task in tasks:
            updates = [update async for update in client.watch(task)]
            assert_once_each(updates)
            result = updates[-1]["result"]
            final = await client.wait(task, timeout=60)
            status = await client.status(task)
            assert final["status"] == status["status"] == "completed"
            assert final["result"] == status["result"] == result
            assert status["filename"] == task.filename and status["progress"] == 100
            assert result["saved"] is True and result["invoice_id"]
            invoice_ids.append(result["invoice_id"])

        listed = [item async for item in client.invoices(vendor="acme")]
        assert {item["invoice_id"] for item in listed} == set(invoice_ids)
        paged = [item async for item in client.invoices(page_size=1)]
        assert [item["invoice_id"] for item in paged] == [i["invoice_id"] for i in listed]
        saved = await client.invoice(invoice_ids[0])
        assert saved["task_id"] == tasks[0].task_id and saved["total"] == "193.00"


async def test_watch_resumes_across_a_gateway_restart(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    # The model takes 3 s, so the gateway dies while the extraction is in flight.
    with fake_model(latency=3.0) as model_url:
        stack = make_stack(model_url)
        document = tmp_path / "resume.png"
        document.write_bytes(invoice_png("resume"))
        async with AsyncClient(stack.base_url, timeout=30) as client:
            (task,) = await client.submit([document])
            updates: list[dict[str, Any]] = []
            extracting = asyncio.Event()

            async def follow(task: Task) -> None:
                async for update in client.watch(task):
                    updates.append(update)
                    if update["stage"] == "llm_extraction":
                        extracting.set()

            watching = asyncio.create_task(follow(task))
            await asyncio.wait_for(extracting.wait(), 60)
            assert not watching.done()
            stack.kill("gateway")
            seen_before_kill = len(updates)
            stack.start_service("gateway")
            await asyncio.to_thread(stack.wait_healthy, 60)
            await asyncio.wait_for(watching, 120)

        assert_once_each(updates)
        assert len(updates) > seen_before_kill  # the rest came over a new connection
