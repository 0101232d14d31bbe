"""Saved invoices over HTTP against the real store: the persister and the validator run in this
process on a NATS server of the test's own, with a PostgreSQL schema of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from contracts.store import INVOICE_STATUSES
from tests.gateway.conftest import make_settings, running
from tests.gateway.store_stack import AS_A, AS_B, KEYS, Stack, error_of, store_stack


@pytest.fixture
async def stack(private_nats_url: str, schema_dsn: str) -> AsyncIterator[Stack]:
    async with store_stack(private_nats_url, schema_dsn, api_keys=KEYS) as started:
        yield started


async def test_the_review_round_trip(stack: Stack) -> None:
    invoice_id = await stack.save(total="187.50")  # 150.00 + 28.50 = 178.50
    listed = await stack.http.get("/api/invoices", params={"status": "needs_review"}, headers=AS_A)
    assert listed.status_code == 200
    assert [item["invoice_id"] for item in listed.json()["items"]] == [invoice_id]

    url = f"/api/invoices/{invoice_id}/review"
    approve: dict[str, Any] = {"decision": "approve", "reviewer": "rita@example.com"}
    refused = await stack.http.post(url, json=approve, headers=AS_A)
    assert error_of(refused) == (422, "invoice_invalid")
    assert "total_mismatch" in [i["code"] for i in refused.json()["error"]["issues"]]

    corrected = {**approve, "corrections": {"total": "178.50"}, "expected_version": 1}
    reviewed = await stack.http.post(url, json=corrected, headers=AS_A)

    assert reviewed.status_code == 200, reviewed.text
    body = reviewed.json()
    assert (body["status"], body["review_status"], body["version"]) == ("approved", "approved", 2)
    assert body["invoice"]["total"] == "178.50"
    (entry,) = body["reviews"]
    assert entry["reviewer"] == "rita@example.com" and entry["decision"] == "approve"
    assert entry["changes"] == [{"field": "total", "old": "187.50", "new": "178.50"}]
    assert entry["created_at"]
    # Reviewed: no longer waiting for a person, and the stored state is what was returned.
    waiting = await stack.http.get("/api/invoices?status=needs_review", headers=AS_A)
    assert waiting.json()["items"] == []
    again = await stack.http.get(f"/api/invoices/{invoice_id}", headers=AS_A)
    assert again.json() == body
    stale = await stack.http.post(url, json=corrected, headers=AS_A)
    assert error_of(stale) == (409, "version_conflict")


async def test_one_invoice_with_line_items_and_findings(stack: Stack) -> None:
    invoice_id = await stack.save()

    response = await stack.http.get(f"/api/invoices/{invoice_id}", headers=AS_A)

    assert response.status_code == 200
    body = response.json()
    assert body["invoice_id"] == invoice_id and body["duplicate_of"] is None
    assert [item["amount"] for item in body["invoice"]["line_items"]] == ["100.00", "50.00"]
    assert body["line_items"] == body["invoice"]["line_items"]
    assert body["validation"]["issues"][0]["code"] == "low_confidence"
    assert set(body["validation"]["issues"][0]) == {"code", "field", "message", "severity"}


async def test_pages_follow_the_cursor_to_the_end(stack: Stack) -> None:
    saved = [await stack.save(invoice_number=f"P-{n}") for n in range(5)]

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = (await stack.http.get("/api/invoices", params=params, headers=AS_A)).json()
        seen += [item["invoice_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert seen == list(reversed(saved))


async def test_filters_reach_the_store(stack: Stack) -> None:
    acme = await stack.save(invoice_date="2026-01-10")
    zeta = await stack.save(vendor={"name": "Zeta Ltd"}, invoice_date="2026-03-10")

    async def ids(**params: Any) -> list[str]:
        response = await stack.http.get("/api/invoices", params=params, headers=AS_A)
        assert response.status_code == 200, response.text
        return [item["invoice_id"] for item in response.json()["items"]]

    assert await ids(vendor="zeta") == [zeta]
    assert await ids(date_from="2026-01-01", date_to="2026-01-31") == [acme]
    assert await ids(duplicate="false") == [zeta, acme]
    assert await ids(status="valid") == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=0", "validation_error"),
        ("limit=201", "validation_error"),
        ("status=paid", "validation_error"),
        ("date_from=yesterday", "validation_error"),
        ("colour=red", "validation_error"),
        ("cursor=not-a-cursor", "invalid_cursor"),
    ],
)
async def test_bad_list_queries_are_refused(stack: Stack, query: str, code: str) -> None:
    response = await stack.http.get(f"/api/invoices?{query}", headers=AS_A)

    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] == code


async def test_every_status_is_a_filter(stack: Stack) -> None:
    for status in INVOICE_STATUSES:
        response = await stack.http.get("/api/invoices", params={"status": status}, headers=AS_A)
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"decision": "maybe", "reviewer": "r"}, 422, "validation_error"),
        ({"decision": "approve"}, 422, "validation_error"),
        ({"decision": "approve", "reviewer": "r", "extra": 1}, 422, "validation_error"),
        (
            {"decision": "reject", "reviewer": "r", "corrections": {"totl": "1"}},
            422,
            "invalid_correction",
        ),
        (
            {"decision": "reject", "reviewer": "r", "corrections": {"total": "x"}},
            422,
            "invalid_correction",
        ),
    ],
)
async def test_bad_reviews_are_refused(
    stack: Stack, body: dict[str, Any], status: int, code: str
) -> None:
    invoice_id = await stack.save()

    response = await stack.http.post(f"/api/invoices/{invoice_id}/review", json=body, headers=AS_A)

    assert error_of(response) == (status, code)


async def test_counts_per_status_for_the_filter_bar(stack: Stack) -> None:
    await stack.save(total="187.50")  # needs_review (a low confidence in the sample)
    zeta = await stack.save(vendor={"name": "Zeta Ltd"}, invoice_date="2026-03-10")
    await stack.save(tenant="tenant-b")
    reviewed = await stack.http.post(
        f"/api/invoices/{zeta}/review", json={"decision": "reject", "reviewer": "r"}, headers=AS_A
    )
    assert reviewed.status_code == 200, reviewed.text

    response = await stack.http.get("/api/invoices/counts", headers=AS_A)

    assert response.status_code == 200, response.text
    none = dict.fromkeys(INVOICE_STATUSES, 0)
    assert response.json() == {"counts": {**none, "needs_review": 1, "rejected": 1}, "total": 2}
    only_zeta = await stack.http.get("/api/invoices/counts?vendor=zeta", headers=AS_A)
    assert only_zeta.json() == {"counts": {**none, "rejected": 1}, "total": 1}
    theirs = await stack.http.get("/api/invoices/counts", headers=AS_B)
    assert theirs.json()["total"] == 1
    # The list's other parameters are not filters of the counts: refused, not ignored.
    for query in ("status=valid", "cursor=x", "date_from=yesterday"):
        refused = await stack.http.get(f"/api/invoices/counts?{query}", headers=AS_A)
        assert error_of(refused) == (422, "validation_error")


async def test_check_shows_the_corrected_invoice_and_its_findings_without_saving(
    stack: Stack,
) -> None:
    invoice_id = await stack.save(total="187.50")  # 150.00 + 28.50 = 178.50
    url = f"/api/invoices/{invoice_id}/check"

    as_saved = await stack.http.post(url, json={}, headers=AS_A)
    fixed = await stack.http.post(url, json={"corrections": {"total": "178.50"}}, headers=AS_A)

    assert as_saved.status_code == 200, as_saved.text
    assert "total_mismatch" in [i["code"] for i in as_saved.json()["validation"]["issues"]]
    assert fixed.status_code == 200, fixed.text
    body = fixed.json()
    assert body["invoice"]["total"] == "178.50" and body["version"] == 1
    assert "total_mismatch" not in [i["code"] for i in body["validation"]["issues"]]
    assert body["confidence"]["total"] == 1.0
    # Nothing was saved: the invoice is as it was, and a review of the same corrections
    # finds exactly what the check showed.
    stored = (await stack.http.get(f"/api/invoices/{invoice_id}", headers=AS_A)).json()
    assert stored["invoice"]["total"] == "187.50" and stored["version"] == 1
    reviewed = await stack.http.post(
        f"/api/invoices/{invoice_id}/review",
        json={"decision": "approve", "reviewer": "r", "corrections": {"total": "178.50"}},
        headers=AS_A,
    )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["validation"] == body["validation"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"corrections": {"totl": "1"}}, "invalid_correction"),
        ({"corrections": {"total": "x"}}, "invalid_correction"),
        ({"corrections": {}, "decision": "approve"}, "validation_error"),
    ],
)
async def test_bad_checks_are_refused_as_reviews_are(
    stack: Stack, body: dict[str, Any], code: str
) -> None:
    invoice_id = await stack.save()

    response = await stack.http.post(f"/api/invoices/{invoice_id}/check", json=body, headers=AS_A)

    assert error_of(response) == (422, code)
    other = await stack.http.post(f"/api/invoices/{invoice_id}/check", json={}, headers=AS_B)
    assert error_of(other) == (404, "invoice_not_found")


async def test_unknown_invoices_are_404(stack: Stack) -> None:
    for invoice_id in ("inv_" + "0" * 32, "garbage", "batch"):
        response = await stack.http.get(f"/api/invoices/{invoice_id}", headers=AS_A)
        assert error_of(response) == (404, "invoice_not_found")
        review = await stack.http.post(
            f"/api/invoices/{invoice_id}/review",
            json={"decision": "reject", "reviewer": "r"},
            headers=AS_A,
        )
        assert error_of(review) == (404, "invoice_not_found")


async def test_without_a_store_the_answer_is_503(private_nats_url: str) -> None:
    async with running(make_settings(private_nats_url)) as app:
        response = await app.http.get("/api/invoices")
        assert error_of(response) == (503, "store_unavailable")
        one = await app.http.get(f"/api/invoices/inv_{'0' * 32}")
        assert error_of(one) == (503, "store_unavailable")
