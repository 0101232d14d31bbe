"""SIGKILL the extractor mid-task: the task still completes exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import httpx
import pytest

from testkit.contract_client import Socket, assert_contiguous, trigger, upload
from testkit.stack import Stack
from tests.e2e.conftest import fake_model
from tests.e2e.documents import invoice_png

pytestmark = pytest.mark.e2e


async def test_killed_extractor_task_completes_exactly_once(
    make_stack: Callable[..., Stack],
) -> None:
    # The model takes 3 s, so the kill lands while the LLM call is in flight; a 2 s ack_wait
    # brings the message back to the restarted extractor quickly.
    with fake_model(latency=3.0) as model_url:
        stack = make_stack(model_url, INVOICEFLOW_ACK_WAIT_SECONDS="2")
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
            socket = await Socket.connect(stack.ws_url)
            try:
                blob = await upload(http, "crash.png", invoice_png("crash"), "image/png")
                task = await trigger(http, blob["blob_url"], "crash.png")
                await socket.join(task["task_id"], task["token"])
                queue = socket.queue(task["task_id"])
                before: list[dict[str, object]] = []
                while not (before and before[-1]["stage"] == "llm_extraction"):
                    before.append((await asyncio.wait_for(queue.get(), 30))["data"])

                stack.kill("extractor")
                stack.start_service("extractor")
                after = await socket.until_done(task["task_id"], timeout=90)
            finally:
                await socket.close()

            updates = before + after
            assert_contiguous(updates)
            assert [u["type"] for u in updates].count("complete") == 1
            assert updates[-1]["type"] == "complete"
            connection = await asyncpg.connect(stack.database_url)
            try:
                count = await connection.fetchval(
                    "SELECT count(*) FROM invoices WHERE task_id = $1", task["task_id"]
                )
            finally:
                await connection.close()
            assert count == 1
