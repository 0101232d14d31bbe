"""`watch` and `wait` against a scripted `/ws` that drops the connection mid-task."""

from __future__ import annotations

import httpx
import pytest
from invoiceflow import AsyncClient, Backoff, GatewayUnreachable, InvoiceflowError, Task
from invoiceflow.watch import watch_task, ws_url

from tests.client.fakes import FakeGatewayWs, Recorder, serving

TASK_ID = "task_" + "b" * 32
FAST = Backoff(initial=0.01, maximum=0.05, give_up_after=2.0)


async def test_a_dropped_connection_resumes_without_loss_or_repeats() -> None:
    fake = FakeGatewayWs(TASK_ID, "tok", total=7, cut_after=2, drops=2)
    async with serving(fake.handle) as base_url:
        task = Task(TASK_ID, "tok", "a.pdf")
        seqs = [u["seq"] async for u in watch_task(ws_url(base_url), task, backoff=FAST)]
    assert seqs == [1, 2, 3, 4, 5, 6, 7]
    # cut after 2 updates twice: first join from 0, then from 2 (cut again after seq 2), then 2
    assert fake.joins == [0, 2, 2]


async def test_watch_starts_after_the_given_seq() -> None:
    fake = FakeGatewayWs(TASK_ID, "tok", total=4, drops=0)
    async with serving(fake.handle) as base_url:
        task = Task(TASK_ID, "tok", "a.pdf")
        seqs = [u["seq"] async for u in watch_task(ws_url(base_url), task, after_seq=2)]
    assert seqs == [3, 4] and fake.joins == [2]


async def test_wait_returns_the_final_status_even_when_it_lags() -> None:
    fake = FakeGatewayWs(TASK_ID, "tok", total=3, drops=1, cut_after=1)
    lagging = {"task_id": TASK_ID, "filename": "a.pdf", "status": "processing", "result": None}
    recorder = Recorder(lambda request: httpx.Response(200, json=lagging))
    seen: list[int] = []
    async with serving(fake.handle) as base_url:
        client = AsyncClient(base_url, transport=recorder.transport(), backoff=FAST)
        async with client:
            final = await client.wait(
                Task(TASK_ID, "tok", "a.pdf"), timeout=10, on_update=lambda u: seen.append(u["seq"])
            )
    assert seen == [1, 2, 3]
    assert final["status"] == "completed" and final["progress"] == 100
    assert final["result"] == {"invoice": {"total": "1.00"}, "saved": False}


async def test_a_refused_join_is_an_error_not_a_retry() -> None:
    fake = FakeGatewayWs(TASK_ID, "right", total=3)
    async with serving(fake.handle) as base_url:
        with pytest.raises(InvoiceflowError) as caught:
            async for _ in watch_task(ws_url(base_url), Task(TASK_ID, "wrong", "a.pdf")):
                pass
    assert caught.value.code == "invalid_token" and fake.connections == 1


async def test_a_gateway_that_stays_away_is_unreachable() -> None:
    from deploy.embedded import free_port

    url = f"ws://127.0.0.1:{free_port()}/ws"
    backoff = Backoff(initial=0.01, maximum=0.02, give_up_after=0.2)
    with pytest.raises(GatewayUnreachable) as caught:
        async for _ in watch_task(url, Task(TASK_ID, "tok", "a.pdf"), backoff=backoff):
            pass
    assert url in caught.value.message
