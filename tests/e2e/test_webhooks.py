"""Webhooks on the whole stack: a receiver on loopback gets signed task and review events,
retries keep one delivery id, a restart of the persister (which delivers) loses none, URLs the
host policy refuses are refused, and one tenant never sees another's webhooks or deliveries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from testkit.stack import Stack
from tests.docs.snippets import python_verifier
from tests.e2e.documents import invoice_png
from tests.fakes.asgi import Receive, Scope, Send, read_body, respond, serving
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

KEYS = "key-a:tenant-a,key-b:tenant-b"
ALL_EVENTS = ["task.completed", "task.failed", "invoice.reviewed"]
WAIT_SECONDS = 90.0
verify_signature = python_verifier()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def delivery_id(self) -> str:
        return self.headers["invoiceflow-webhook-id"]


@dataclass
class Receiver:
    """An HTTP receiver on loopback: answers `failing` (a status) while it is set, else 204."""

    port: int = 0
    failing: int | None = None
    received: list[Received] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        status = self.failing or 204
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        await respond(send, status, b"{}" if status != 204 else b"")
        async with self.changed:
            self.received.append(Received(headers, body, status))
            self.changed.notify_all()

    async def wait_for(self, found: Callable[[list[Received]], bool]) -> list[Received]:
        async with self.changed:
            await asyncio.wait_for(
                self.changed.wait_for(lambda: found(self.received)), WAIT_SECONDS
            )
        return list(self.received)

    async def event(self, type_: str, key: str, value: str) -> Received:
        """The first delivery of a `type_` event whose data's `key` is `value`."""

        def matching(received: list[Received]) -> list[Received]:
            return [
                r
                for r in received
                if r.event["type"] == type_ and r.event["data"].get(key) == value
            ]

        return matching(await self.wait_for(lambda seen: bool(matching(seen))))[0]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    async with serving(hook) as port:
        hook.port = port
        yield hook


@pytest.fixture
def hook_stack(make_stack: Callable[..., Stack], model_url: str) -> Stack:
    return make_stack(
        model_url,
        INVOICEFLOW_API_KEYS=KEYS,
        INVOICEFLOW_FETCH_ALLOWED_HOSTS="127.0.0.1",
        INVOICEFLOW_WEBHOOK_RETRY_BASE_SECONDS="0.2",
        INVOICEFLOW_WEBHOOK_RETRY_MAX_SECONDS="1",
    )


def client(stack: Stack, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.base_url, timeout=30, headers={"Authorization": f"Bearer {key}"}
    )


@pytest.fixture
async def tenant_a(hook_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with client(hook_stack, "key-a") as http:
        yield http


@pytest.fixture
async def tenant_b(hook_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with client(hook_stack, "key-b") as http:
        yield http


async def register(http: httpx.AsyncClient, url: str, events: list[str]) -> dict[str, Any]:
    response = await http.post("/api/webhooks", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def submit(http: httpx.AsyncClient, name: str, data: bytes, mime: str) -> str:
    response = await http.post("/api/invoices", files={"file": (name, data, mime)})
    assert response.status_code == 202, response.text
    task_id: str = response.json()["tasks"][0]["task_id"]
    return task_id


def assert_signed(received: Received, secret: str) -> None:
    assert verify_signature(secret, received.headers["invoiceflow-signature"], received.body)
    assert not verify_signature(
        "whsec_wrong", received.headers["invoiceflow-signature"], received.body
    )


async def deliveries(http: httpx.AsyncClient, webhook_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/api/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def settled_deliveries(http: httpx.AsyncClient, webhook_id: str) -> list[dict[str, Any]]:
    """The deliveries once none is pending: the persister records an answer after the receiver
    has sent it, so a receiver that has answered does not yet mean a recorded delivery."""
    found: list[dict[str, Any]] = []

    async def settled() -> bool:
        found[:] = await deliveries(http, webhook_id)
        return all(record["status"] != "pending" for record in found)

    await wait_until(settled, timeout=WAIT_SECONDS, interval=0.1)
    return found


async def test_task_and_review_events_arrive_signed(
    tenant_a: httpx.AsyncClient, receiver: Receiver
) -> None:
    hook = await register(tenant_a, receiver.url, ALL_EVENTS)
    assert hook["id"].startswith("wh_") and hook["secret"] and hook["events"] == ALL_EVENTS
    listed = (await tenant_a.get("/api/webhooks")).json()["items"]
    assert [item["id"] for item in listed] == [hook["id"]]
    assert "secret" not in listed[0]

    task_id = await submit(tenant_a, "invoice.png", invoice_png("hook"), "image/png")
    completed = await receiver.event("task.completed", "task_id", task_id)
    assert_signed(completed, hook["secret"])
    assert completed.headers["content-type"] == "application/json"
    assert completed.delivery_id.startswith("whd_")
    event = completed.event
    assert set(event) == {"id", "type", "created_at", "data"}
    status = (await tenant_a.get(f"/api/invoices/status/{task_id}")).json()
    assert event["data"] == status and status["status"] == "completed"

    invoice_id = status["result"]["invoice_id"]
    review = {"decision": "reject", "reviewer": "ada", "note": "not ours"}
    reviewed = await tenant_a.post(f"/api/invoices/{invoice_id}/review", json=review)
    assert reviewed.status_code == 200, reviewed.text
    arrived = await receiver.event("invoice.reviewed", "invoice_id", invoice_id)
    assert_signed(arrived, hook["secret"])
    assert arrived.event["data"]["status"] == "rejected"
    assert arrived.event["data"]["reviews"][-1]["reviewer"] == "ada"
    assert arrived.event["data"] == reviewed.json()

    # A document the pipeline cannot read ends the task with an error: task.failed.
    broken = await submit(tenant_a, "broken.pdf", b"%PDF-1.4\nnot a pdf at all", "application/pdf")
    failed = await receiver.event("task.failed", "task_id", broken)
    assert_signed(failed, hook["secret"])
    assert failed.event["data"]["status"] == "error" and failed.event["data"]["error"]["code"]

    records = await settled_deliveries(tenant_a, hook["id"])
    assert {r["type"] for r in records} == set(ALL_EVENTS)
    for record in records:
        assert record["status"] == "delivered" and record["attempts"] == 1
        assert record["last_status_code"] == 204 and record["delivered_at"]

    assert (await tenant_a.delete(f"/api/webhooks/{hook['id']}")).status_code == 204
    assert (await tenant_a.get("/api/webhooks")).json() == {"items": []}
    gone = await tenant_a.get(f"/api/webhooks/{hook['id']}/deliveries")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "webhook_not_found")


async def test_a_failing_receiver_gets_one_delivery_id_and_a_restart_loses_none(
    hook_stack: Stack, tenant_a: httpx.AsyncClient, receiver: Receiver
) -> None:
    hook = await register(tenant_a, receiver.url, ["task.completed"])
    receiver.failing = 503

    task_id = await submit(tenant_a, "retry.png", invoice_png("retry"), "image/png")
    await receiver.wait_for(lambda seen: len(seen) >= 3)
    # The third is under way; the two before it are recorded.
    [failing] = await deliveries(tenant_a, hook["id"])
    assert failing["status"] == "pending" and failing["attempts"] >= 2
    assert (failing["last_status_code"], failing["last_error"]) == (503, "answered 503")
    assert failing["next_attempt_at"] and failing["delivered_at"] is None
    # The process that delivers stops between attempts and comes back; so does the gateway.
    hook_stack.restart("persister")
    hook_stack.restart("gateway")
    await receiver.wait_for(lambda seen: len(seen) >= 4)
    receiver.failing = None
    await receiver.wait_for(lambda seen: any(r.answered == 204 for r in seen))

    seen = receiver.received
    assert {r.delivery_id for r in seen} == {seen[0].delivery_id}
    assert len({r.body for r in seen}) == 1  # every attempt sends the same bytes
    assert [r.answered for r in seen].count(204) == 1
    assert seen[0].event["data"]["task_id"] == task_id
    for received in seen:
        assert_signed(received, hook["secret"])
    [record] = await settled_deliveries(tenant_a, hook["id"])
    assert record["id"] == seen[0].delivery_id and record["status"] == "delivered"
    assert record["attempts"] == len(seen) and record["last_status_code"] == 204


REFUSED = [
    ("http://10.0.0.1/hook", "webhook_url_forbidden"),
    ("http://169.254.169.254/latest/meta-data", "webhook_url_forbidden"),
    ("http://[::1]:9/hook", "webhook_url_forbidden"),
    ("http://localhost:9/hook", "webhook_url_forbidden"),  # listed: 127.0.0.1 only
    ("http://user:pw@127.0.0.1:9/hook", "webhook_url_forbidden"),
    ("ftp://127.0.0.1/hook", "validation_error"),
    ("not a url", "validation_error"),
]


async def test_urls_the_host_policy_refuses_and_unknown_events_are_422(
    tenant_a: httpx.AsyncClient, receiver: Receiver
) -> None:
    for url, code in REFUSED:
        response = await tenant_a.post(
            "/api/webhooks", json={"url": url, "events": ["task.failed"]}
        )
        assert (response.status_code, response.json()["error"]["code"]) == (422, code), url
        assert response.json()["error"]["message"]
    for events in (["task.exploded"], []):
        body = {"url": receiver.url, "events": events}
        response = await tenant_a.post("/api/webhooks", json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (422, "validation_error")
    assert (await tenant_a.get("/api/webhooks")).json() == {"items": []}


async def test_tenants_see_and_get_only_their_own(
    tenant_a: httpx.AsyncClient, tenant_b: httpx.AsyncClient, receiver: Receiver
) -> None:
    async with serving(other := Receiver()) as port:
        other.port = port
        hook_a = await register(tenant_a, receiver.url, ["task.completed"])
        hook_b = await register(tenant_b, other.url, ["task.completed"])

        assert [h["id"] for h in (await tenant_b.get("/api/webhooks")).json()["items"]] == [
            hook_b["id"]
        ]
        for response in (
            await tenant_b.delete(f"/api/webhooks/{hook_a['id']}"),
            await tenant_b.get(f"/api/webhooks/{hook_a['id']}/deliveries"),
        ):
            assert (response.status_code, response.json()["error"]["code"]) == (
                404,
                "webhook_not_found",
            )

        task_b = await submit(tenant_b, "b.png", invoice_png("tenant b"), "image/png")
        await other.event("task.completed", "task_id", task_b)
        # Every registration an event goes to is recorded at once: tenant a's has none of b's.
        assert await deliveries(tenant_a, hook_a["id"]) == []
        task_a = await submit(tenant_a, "a.png", invoice_png("tenant a"), "image/png")
        await receiver.event("task.completed", "task_id", task_a)
        assert [r.event["data"]["task_id"] for r in receiver.received] == [task_a]
        assert [r.event["data"]["task_id"] for r in other.received] == [task_b]
