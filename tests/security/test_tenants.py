"""Tenant isolation on every `/api/*` route with an id in its path, read from the OpenAPI
document so a new route is checked too: another tenant's task or invoice is answered exactly
like one that does not exist, and is left as it was."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from testkit.documents import image_bytes
from tests.gateway.store_stack import AS_A, AS_B, KEYS, Stack, error_of, store_stack

BLOB_URL = "http://files.test/invoice.pdf"
# A body each route with one takes; a new route with a body must be given one here.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/invoices/{invoice_id}/review"): {
        "decision": "reject",
        "reviewer": "mallory",
        "corrections": {"invoice_number": "STOLEN"},
    },
    ("POST", "/api/invoices/{invoice_id}/check"): {"corrections": {"total": "1.00"}},
}
ID_PARAMETERS = {"task_id", "invoice_id", "webhook_id"}
# A webhook receiver the gateway accepts without a DNS lookup (listed by name: any address).
HOOK_HOST = "203.0.113.7"
# Other path parameters: a value the owner's request succeeds with.
OTHER_PARAMETERS = {"n": "1"}


@pytest.fixture
async def stack(private_nats_url: str, schema_dsn: str) -> AsyncIterator[Stack]:
    async with store_stack(
        private_nats_url, schema_dsn, api_keys=KEYS, fetch_allowed_hosts=(HOOK_HOST,)
    ) as started:
        yield started


def routes_with_ids(stack: Stack) -> list[tuple[str, str, str]]:
    """(method, path template, id parameter) of every /api route naming a task, an invoice or a
    webhook."""
    found = []
    for path, operations in stack.app.app.openapi()["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path)) - set(OTHER_PARAMETERS)
        if path.startswith("/api/") and names:
            assert names <= ID_PARAMETERS, f"{path}: teach this test about {names - ID_PARAMETERS}"
            filled = path
            for other, value in OTHER_PARAMETERS.items():
                filled = filled.replace("{" + other + "}", value)
            found += [(method.upper(), filled, names.pop()) for method in operations]
    return found


async def ids_of_tenant_a(stack: Stack) -> dict[str, str]:
    accepted = await stack.http.post(
        "/api/invoices/upload", json={"blob_url": BLOB_URL}, headers=AS_A
    )
    assert accepted.status_code == 202
    invoice_id = await stack.save_with_document(image_bytes(), AS_A)
    hook = {"url": f"http://{HOOK_HOST}/hook", "events": ["task.completed"]}
    registered = await stack.http.post("/api/webhooks", json=hook, headers=AS_A)
    assert registered.status_code == 201, registered.text
    return {
        "task_id": accepted.json()["task_id"],
        "invoice_id": invoice_id,
        "webhook_id": registered.json()["id"],
    }


MISSING = {
    "task_id": f"task_{uuid.uuid4().hex}",
    "invoice_id": f"inv_{uuid.uuid4().hex}",
    "webhook_id": f"wh_{uuid.uuid4().hex}",
}


async def test_every_route_answers_another_tenants_id_like_a_missing_one(stack: Stack) -> None:
    routes = routes_with_ids(stack)
    assert ("POST", "/api/invoices/{invoice_id}/review", "invoice_id") in routes
    assert ("GET", "/api/invoices/status/{task_id}", "task_id") in routes
    assert ("GET", "/api/invoices/{invoice_id}/pages/1", "invoice_id") in routes
    assert ("DELETE", "/api/webhooks/{webhook_id}", "webhook_id") in routes
    owned = await ids_of_tenant_a(stack)

    # Deletions last: the owner's succeeds, and the other routes need the thing to exist.
    for method, template, name in sorted(routes, key=lambda route: route[0] == "DELETE"):
        body = BODIES.get((method, template))
        assert method in ("GET", "DELETE") or body is not None, (
            f"{method} {template}: add a body to BODIES"
        )
        paths = {
            which: template.replace("{" + name + "}", value)
            for which, value in (("theirs", owned[name]), ("missing", MISSING[name]))
        }

        theirs = await stack.http.request(method, paths["theirs"], json=body, headers=AS_B)
        missing = await stack.http.request(method, paths["missing"], json=body, headers=AS_B)
        assert error_of(theirs) == error_of(missing), (method, template)
        assert error_of(theirs)[0] == 404
        assert theirs.json()["error"]["message"] == missing.json()["error"]["message"]
        # The owner reaches it (so the refusal above is about the tenant, not the request).
        mine = await stack.http.request(method, paths["theirs"], json=body, headers=AS_A)
        assert mine.status_code < 400, (method, template, mine.text)


async def test_another_tenants_review_changes_nothing(stack: Stack) -> None:
    owned = await ids_of_tenant_a(stack)
    body = BODIES[("POST", "/api/invoices/{invoice_id}/review")]

    await stack.http.post(f"/api/invoices/{owned['invoice_id']}/review", json=body, headers=AS_B)

    invoice = (await stack.http.get(f"/api/invoices/{owned['invoice_id']}", headers=AS_A)).json()
    assert invoice["version"] == 1 and invoice["invoice"]["invoice_number"] != "STOLEN"


async def test_lists_hold_only_the_callers_invoices(stack: Stack) -> None:
    owned = await ids_of_tenant_a(stack)

    for query in ({}, {"status": "needs_review"}, {"vendor": "ACME"}, {"limit": 100}):
        listed = await stack.http.get("/api/invoices", params=query, headers=AS_B)
        assert listed.status_code == 200
        assert owned["invoice_id"] not in [item["invoice_id"] for item in listed.json()["items"]]
