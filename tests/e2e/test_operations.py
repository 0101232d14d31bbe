"""Every service's /healthz, /readyz and /metrics, scraped after a task went through the stack
(each service a process of its own)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from deploy.embedded import free_port
from testkit.contract_client import Socket, trigger, upload
from testkit.documents import image_bytes
from testkit.stack import Stack

pytestmark = pytest.mark.e2e
WORKERS = ("extractor", "validator", "persister")


def metric(text: str, name: str) -> float:
    """The value of one sample (`name` with its labels) in Prometheus' text format."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in the scrape")


async def test_every_service_is_ready_and_counts_the_task(
    make_stack: Callable[..., Stack], model_url: str
) -> None:
    ports = {name: free_port() for name in WORKERS}
    stack = make_stack(
        model_url,
        service_envs={
            name: {"INVOICEFLOW_METRICS_PORT": str(port)} for name, port in ports.items()
        },
    )
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        uploaded = await upload(http, "scan.png", image_bytes(), "image/png")
        task = await trigger(http, uploaded["blob_url"], "scan.png")
        socket = await Socket.connect(stack.ws_url)
        try:
            await socket.join(task["task_id"], task["token"])
            updates = await socket.until_done(task["task_id"])
        finally:
            await socket.close()
        assert updates[-1]["type"] == "complete"
        scrapes = {"gateway": (await http.get("/metrics")).text}
        for name, port in ports.items():
            base = f"http://127.0.0.1:{port}"
            assert (await http.get(f"{base}/healthz")).status_code == 200
            assert (await http.get(f"{base}/readyz")).status_code == 200, name
            scrapes[name] = (await http.get(f"{base}/metrics")).text
        assert (await http.get("/readyz")).status_code == 200

    assert metric(scrapes["gateway"], "invoiceflow_tasks_accepted_total") == 1
    assert metric(scrapes["gateway"], 'invoiceflow_frames_sent_total{transport="ws"}') >= 1
    assert metric(scrapes["gateway"], "invoiceflow_publish_to_socket_seconds_count") >= 1
    extractor = scrapes["extractor"]
    assert metric(extractor, 'invoiceflow_stage_duration_seconds_count{stage="fetch"}') == 1
    calls = 'invoiceflow_model_calls_total{model="gpt-4o-mini",outcome="ok",provider="openai"}'
    assert metric(extractor, calls) == 1
    validation = 'invoiceflow_stage_duration_seconds_count{stage="validation"}'
    assert metric(scrapes["validator"], validation) == 1
    assert metric(scrapes["persister"], 'invoiceflow_tasks_completed_total{step="persist"}') == 1
    assert metric(scrapes["persister"], 'invoiceflow_dependency_up{dependency="postgres"}') == 1
