"""Tenant isolation with `INVOICEFLOW_API_KEYS`: every `/api/*` route but health needs a key,
and a tenant reaches only its own tasks, invoices and task rooms."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.gateway.conftest import Ws, make_settings, served
from tests.gateway.store_stack import AS_A, AS_B, KEYS, Stack, error_of, store_stack

BLOB_URL = "http://files.test/invoice.pdf"


@pytest.fixture
async def stack(private_nats_url: str, schema_dsn: str) -> AsyncIterator[Stack]:
    async with store_stack(private_nats_url, schema_dsn, api_keys=KEYS) as started:
        yield started


def api_routes(stack: Stack) -> list[tuple[str, str]]:
    """Every (method, path) under /api/ the app documents: a new route is checked too."""
    found = []
    for path, operations in stack.app.app.openapi()["paths"].items():
        if path.startswith("/api/"):
            # Any value fills a path parameter: the key is checked before the path is looked at.
            filled = re.sub(r"\{[^}]+\}", "x", path)
            found += [(method.upper(), filled) for method in operations]
    return found


async def test_every_api_route_but_health_needs_a_valid_key(stack: Stack) -> None:
    routes = api_routes(stack)
    assert ("GET", "/api/invoices") in routes and ("POST", "/api/invoices/x/review") in routes

    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "key-a"}):
            response = await stack.http.request(method, path, headers=headers)
            if path == "/api/health":
                assert response.status_code == 200
            else:
                assert error_of(response) == (401, "unauthorized"), (method, path, headers)
                assert response.headers["www-authenticate"] == "Bearer"


async def test_a_tenant_sees_only_its_own_invoices(stack: Stack) -> None:
    mine = await stack.save(tenant="tenant-a")
    theirs = await stack.save(tenant="tenant-b", invoice_number="B-1")

    listed_a = await stack.http.get("/api/invoices", headers=AS_A)
    listed_b = await stack.http.get("/api/invoices", headers=AS_B)
    assert [item["invoice_id"] for item in listed_a.json()["items"]] == [mine]
    assert [item["invoice_id"] for item in listed_b.json()["items"]] == [theirs]

    assert (await stack.http.get(f"/api/invoices/{mine}", headers=AS_A)).status_code == 200
    assert error_of(await stack.http.get(f"/api/invoices/{mine}", headers=AS_B)) == (
        404,
        "invoice_not_found",
    )
    review = {"decision": "reject", "reviewer": "mallory"}
    refused = await stack.http.post(f"/api/invoices/{mine}/review", json=review, headers=AS_B)
    assert error_of(refused) == (404, "invoice_not_found")
    untouched = (await stack.http.get(f"/api/invoices/{mine}", headers=AS_A)).json()
    assert untouched["version"] == 1 and untouched["reviews"] == []


async def test_a_tenant_sees_only_its_own_tasks(stack: Stack) -> None:
    accepted = await stack.http.post(
        "/api/invoices/upload", json={"blob_url": BLOB_URL}, headers=AS_A
    )
    task = accepted.json()
    url = f"/api/invoices/status/{task['task_id']}"

    assert (await stack.http.get(url, headers=AS_A)).status_code == 200
    # Holding the task's token does not help another tenant.
    hidden = await stack.http.get(url, headers=AS_B, params={"token": task["token"]})
    assert error_of(hidden) == (404, "task_not_found")


async def test_a_tenant_cannot_join_another_tenants_room(private_nats_url: str) -> None:
    async with served(make_settings(private_nats_url, api_keys=KEYS)) as server:
        async with httpx.AsyncClient(base_url=server.base_url, headers=AS_A) as http:
            task = (await http.post("/api/invoices/upload", json={"blob_url": BLOB_URL})).json()
        join = {"task_id": task["task_id"], "token": task["token"]}

        other = await Ws.open(server.ws_url, additional_headers=AS_B)
        owner = await Ws.open(server.ws_url, additional_headers=AS_A)
        try:
            await other.expect("connected")
            await other.send("join_task", join)
            assert (await other.expect("error"))["code"] == "task_not_found"
            await owner.expect("connected")
            await owner.send("join_task", join)
            assert await owner.expect("joined_task") == {"task_id": task["task_id"]}
        finally:
            await other.close()
            await owner.close()

        with pytest.raises(InvalidStatus) as refused:
            await Ws.open(server.ws_url, additional_headers={"Authorization": "Bearer wrong"})
        assert refused.value.response.status_code == 401
