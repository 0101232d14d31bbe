"""The review workspace at `/invoices`, in headless Chromium, against the whole stack.

Invoices are uploaded through the API with the fake model's scripted answers: `fake-low-confidence`
(needs review) and `fake-total-zero` (a total of 0.00 that disagrees with its lines: invalid).
Each test works in a tenant of its own (its API key), so they never see each other's invoices.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from testkit.documents import CANNED_PLACED, placed_pdf
from testkit.stack import Stack
from tests.browser.conftest import phone_page, watched_page

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], Path]
KEYS = {"queue-key": "t-queue", "conflict-key": "t-conflict", "phone-key": "t-phone"}
DONE_SECONDS = 90.0


@pytest.fixture(scope="module")
def keyed_stack(make_stack: Callable[..., Stack], model_url: str) -> Stack:
    keys = ",".join(f"{key}:{tenant}" for key, tenant in KEYS.items())
    return make_stack(model_url, INVOICEFLOW_API_KEYS=keys)


def saved_invoice(stack: Stack, key: str, tag: str, model: str) -> str:
    """A placed PDF (its own file: `tag` is printed on it) through the pipeline; its id."""
    headers = {"Authorization": f"Bearer {key}"}
    data = placed_pdf((*CANNED_PLACED, (60, 500, f"Ref {tag}")))
    answer = httpx.post(
        f"{stack.base_url}/api/invoices",
        files={"file": (f"{tag}.pdf", data, "application/pdf")},
        data={"options": json.dumps({"model": model})},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    task_id = answer.json()["tasks"][0]["task_id"]
    deadline = time.monotonic() + DONE_SECONDS
    while time.monotonic() < deadline:  # a condition with a deadline, not a sleep
        status = httpx.get(
            f"{stack.base_url}/api/invoices/status/{task_id}", headers=headers, timeout=10
        ).json()
        if status["status"] in ("completed", "error"):
            assert status["status"] == "completed", status
            invoice_id: str = status["result"]["invoice_id"]
            return invoice_id
        time.sleep(0.1)
    raise AssertionError(f"{task_id} did not finish in {DONE_SECONDS} s")


def get_invoice(stack: Stack, key: str, invoice_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.base_url}/api/invoices/{invoice_id}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def sign_in(page: Page, stack: Stack, key: str, reviewer: str, path: str = "/invoices") -> None:
    page.goto(stack.base_url + path)
    settings = page.locator("#settings")
    if settings.get_attribute("open") is None:
        page.locator("#settings summary").click()
    page.get_by_label("API key").fill(key)
    page.get_by_label("API key").dispatch_event("change")
    page.get_by_label("Your name").fill(reviewer)
    page.get_by_label("Your name").dispatch_event("change")


def open_invoice(page: Page, invoice_id: str) -> None:
    view = page.locator("#invoice-view")
    expect(view).to_be_visible()
    expect(view).to_have_attribute("data-invoice-id", invoice_id)
    expect(page.locator("#pages .page-image").first).to_be_visible()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#pages .page-image')].every(i => i.complete"
        " && i.naturalWidth > 0)"
    )


def assert_box_where_printed(page: Page, path: str, bbox: list[float]) -> None:
    """The active box is the evidence's bbox, as fractions of the page image shown."""
    box = page.locator(f'#pages .box.active[data-path="{path}"]')
    expect(box).to_be_visible()
    image = page.locator("#pages .page-image").first.bounding_box()
    drawn = box.bounding_box()
    assert image is not None and drawn is not None
    x0, y0, x1, y1 = bbox
    expected = (
        image["x"] + x0 * image["width"],
        image["y"] + y0 * image["height"],
        image["x"] + x1 * image["width"],
        image["y"] + y1 * image["height"],
    )
    got = (drawn["x"], drawn["y"], drawn["x"] + drawn["width"], drawn["y"] + drawn["height"])
    assert all(abs(a - b) <= 1.5 for a, b in zip(got, expected, strict=True)), (got, expected)


def top_with_box(page: Page, path: str) -> None:
    """Scrolled to the top with `path`'s box drawn: what a full-page screenshot should show."""
    page.evaluate("window.scrollTo(0, 0)")
    page.locator(f'input[data-path="{path}"]').focus()
    page.evaluate("window.scrollTo(0, 0)")
    expect(page.locator(f'#pages .box.active[data-path="{path}"]')).to_be_visible()


def findings(page: Page) -> list[str]:
    return [
        f"{item.get_attribute('data-code')}:{item.get_attribute('data-field')}"
        for item in page.locator("#all-findings li[data-code]").all()
    ]


def assert_the_list(
    page: Page, stack: Stack, review: list[str], wrong: list[str], shot: Shot
) -> None:
    rows = page.locator("#invoice-rows tr")
    # The list: newest first, every status counted; the review queue is one click away.
    expect(rows).to_have_count(4)
    assert [r.get_attribute("data-invoice-id") for r in rows.all()] == [*wrong[::-1], *review[::-1]]
    expect(page.locator('.chip[data-status="needs_review"] .count')).to_have_text("2")
    expect(page.locator('.chip[data-status="invalid"] .count')).to_have_text("2")
    expect(page.locator('.chip[data-status="all"] .count')).to_have_text("4")
    expect(rows.first.locator(".dup")).to_be_visible()  # same vendor and number as the first
    shot(page, "list")
    page.locator('.chip[data-status="needs_review"]').click()
    expect(page).to_have_url(f"{stack.base_url}/invoices?status=needs_review")
    expect(rows).to_have_count(2)
    export = page.locator("#export-csv")
    expect(export).to_have_attribute("href", "/api/invoices/export?status=needs_review&format=csv")
    # The download goes through fetch with the API key: the queue's two rows, as CSV.
    with page.expect_download() as download:
        export.click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    csv_rows = list(csv.DictReader(io.StringIO(exported, newline="")))
    assert {row["invoice_id"] for row in csv_rows} == set(review)
    assert {row["status"] for row in csv_rows} == {"needs_review"}


def correct_check_and_approve(
    page: Page, stack: Stack, key: str, wrong: list[str], shot: Shot
) -> None:
    rows = page.locator("#invoice-rows tr")
    # The invalid ones: a planted wrong total, corrected and checked before it is saved.
    page.locator("#back").click()
    page.locator('.chip[data-status="invalid"]').click()
    expect(rows).to_have_count(2)
    rows.first.locator("a.open").click()
    open_invoice(page, wrong[1])
    assert "total_mismatch:total" in findings(page)
    page.locator("#approve").click()  # refused: errors cannot be approved
    expect(page.locator("#message")).to_contain_text("cannot be approved")
    total = page.locator('input[data-path="total"]')
    total.fill("193,00")
    expect(total).to_have_attribute("aria-invalid", "true")  # money is a decimal with a point
    total.fill("193.00")
    expect(total).to_have_attribute("aria-invalid", "false")
    page.locator("#check").click()
    expect(page.locator("#check-result")).to_contain_text("Nothing is saved yet")
    assert "total_mismatch:total" not in findings(page)
    assert get_invoice(stack, key, wrong[1])["invoice"]["total"] == "0.00"  # not saved
    top_with_box(page, "vendor.name")  # the 0.00 read as the total is printed nowhere: no box
    shot(page, "checked")
    page.locator("#comment").fill("total misread")
    page.locator("#approve-next").click()
    open_invoice(page, wrong[0])
    saved = get_invoice(stack, key, wrong[1])
    assert (saved["status"], saved["invoice"]["total"]) == ("approved", "193.00")
    (entry,) = saved["reviews"]
    assert entry["reviewer"] == "Rita Reviewer" and entry["note"] == "total misread"
    assert {"field": "total", "old": "0.00", "new": "193.00"} in entry["changes"]


def test_the_queue_evidence_a_corrected_total_and_approve_and_next(
    page: Page, keyed_stack: Stack, shot: Shot, page_errors: list[str]
) -> None:
    stack, key = keyed_stack, "queue-key"
    review = [saved_invoice(stack, key, f"review-{n}", "fake-low-confidence") for n in (1, 2)]
    wrong = [saved_invoice(stack, key, f"wrong-{n}", "fake-total-zero") for n in (1, 2)]
    sign_in(page, stack, key, "Rita Reviewer")

    assert_the_list(page, stack, review, wrong, shot)

    # One invoice: hovering a field draws its evidence box where the value is printed.
    first = review[1]  # the newest of the queue
    page.locator("#invoice-rows tr").first.locator("a.open").click()
    open_invoice(page, first)
    evidence = get_invoice(stack, key, first)["evidence"]
    for path in ("vendor.name", "total", "line_items[0].amount"):
        page.locator(f'#fields [data-path="{path}"]').first.hover()
        assert_box_where_printed(page, path, evidence[path]["bbox"])
    # Clicking a box focuses its field.
    page.locator('#pages .box[data-path="vendor.name"]').click()
    expect(page.locator('input[data-path="vendor.name"]')).to_be_focused()
    expect(page.locator('.line-check[data-index="0"]')).to_have_attribute("data-ok", "true")
    top_with_box(page, "total")
    shot(page, "invoice-hover")

    # Approve and next: saved, and the next of the queue is open.
    page.locator("#approve-next").click()
    open_invoice(page, review[0])
    assert get_invoice(stack, key, first)["status"] == "approved"

    correct_check_and_approve(page, stack, key, wrong, shot)

    # The trail under the invoice, after going back to it.
    page.goto(f"{stack.base_url}/invoices/{wrong[1]}")
    open_invoice(page, wrong[1])
    trail = page.locator("#trail > li")
    expect(trail).to_have_count(1)
    expect(trail.first).to_contain_text("Rita Reviewer")
    expect(trail.first).to_contain_text("0.00")
    expect(trail.first).to_contain_text("193.00")
    shot(page, "trail")
    assert page_errors == []


@pytest.fixture
def second_page(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    opened = watched_page(browser, page_errors, viewport={"width": 1100, "height": 900})
    yield opened
    opened.context.close()


def test_a_concurrent_review_shows_both_versions_and_keeps_the_edits(
    page: Page, second_page: Page, keyed_stack: Stack, shot: Shot, page_errors: list[str]
) -> None:
    stack, key = keyed_stack, "conflict-key"
    invoice_id = saved_invoice(stack, key, "conflict", "fake-low-confidence")
    path = f"/invoices/{invoice_id}"
    sign_in(page, stack, key, "Ann", path)
    open_invoice(page, invoice_id)
    page.locator('input[data-path="invoice_number"]').fill("INV-1001-A")
    page.locator('input[data-path="payment.reference"]').fill("REF-ANN")

    # Someone else, in another browser, approves it first with another correction.
    sign_in(second_page, stack, key, "Bob", path)
    open_invoice(second_page, invoice_id)
    second_page.locator('input[data-path="payment.reference"]').fill("REF-BOB")
    second_page.locator("#approve").click()
    expect(second_page.locator("#trail > li")).to_have_count(1)

    page.locator("#approve").click()
    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_have_attribute("data-their-version", "2")
    expect(page.locator("#conflict-text")).to_contain_text("Bob approved it")
    reference = page.locator('#conflict-rows tr[data-field="payment.reference"]')
    expect(reference.locator(".theirs")).to_have_text("REF-BOB")
    expect(reference.locator(".yours")).to_have_text("REF-ANN")
    number = page.locator('#conflict-rows tr[data-field="invoice_number"]')
    expect(number.locator(".theirs")).to_have_text("INV-1001")
    expect(number.locator(".yours")).to_have_text("INV-1001-A")
    # Nothing of Ann's is lost: her edits are still in the fields.
    expect(page.locator('input[data-path="invoice_number"]')).to_have_value("INV-1001-A")
    shot(page, "conflict")

    page.locator("#reapply").click()
    expect(conflict).to_be_hidden()
    expect(page.locator("#invoice-view")).to_have_attribute("data-version", "2")
    expect(page.locator('input[data-path="payment.reference"]')).to_have_value("REF-ANN")
    page.locator("#reject").click()
    expect(page.locator("#trail > li")).to_have_count(2)
    saved = get_invoice(stack, key, invoice_id)
    assert [r["reviewer"] for r in saved["reviews"]] == ["Bob", "Ann"]
    assert saved["status"] == "rejected" and saved["invoice"]["invoice_number"] == "INV-1001-A"
    assert saved["invoice"]["payment"]["reference"] == "REF-ANN"
    assert page_errors == []


@pytest.fixture
def phone(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    opened = phone_page(browser, page_errors, 375, 812)  # the narrowest common phone
    yield opened
    opened.context.close()


def test_keyboard_help_upload_link_and_phone_width(
    phone: Page, keyed_stack: Stack, tmp_path: Path, shot: Shot, page_errors: list[str]
) -> None:
    page, stack, key = phone, keyed_stack, "phone-key"
    # From the upload page: the finished card links to its invoice in the workspace.
    document = tmp_path / "phone.pdf"
    document.write_bytes(placed_pdf((*CANNED_PLACED, (60, 500, "Ref phone"))))
    page.goto(stack.base_url + "/")
    expect(page.locator(".workspace-link")).to_have_attribute("href", "/invoices")
    page.locator("summary", has_text="Options").click()
    page.get_by_label("Model").fill("fake-low-confidence")
    page.get_by_label("API key").fill(key)
    page.get_by_label("API key").dispatch_event("change")
    page.locator("#file-input").set_input_files(document)
    link = page.locator(".card .open-invoice")
    expect(link).to_be_visible(timeout=int(DONE_SECONDS * 1000))
    href = link.get_attribute("href") or ""
    assert href.startswith("/invoices/inv_")
    link.click()
    invoice_id = href.rsplit("/", 1)[1]
    open_invoice(page, invoice_id)  # the key came along (sessionStorage)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "phone-invoice")

    # Keys: ? shows every shortcut, Esc closes; j/k walk the fields; e edits; Esc leaves.
    page.locator("#invoice-heading").focus()
    page.keyboard.press("?")
    help_dialog = page.locator("#help")
    expect(help_dialog).to_be_visible()
    for keys in ("j", "a", "Shift + A", "r", "n", "c", "e", "/", "Esc", "?"):
        expect(help_dialog.locator("dt", has=page.locator(f'kbd:text-is("{keys}")'))).to_have_count(
            1
        )
    shot(page, "phone-help")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("j")
    expect(page.locator('.field[data-path="document_type"]')).to_be_focused()
    # The pointer coming to rest on another field (as after a scroll) must not move j's place.
    page.locator('.field[data-path="total"]').dispatch_event("mouseenter")
    page.keyboard.press("j")
    expect(page.locator('.field[data-path="invoice_number"]')).to_be_focused()
    page.keyboard.press("e")
    expect(page.locator('input[data-path="invoice_number"]')).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator('.field[data-path="invoice_number"]')).to_be_focused()
    page.keyboard.press("Escape")  # back to the list
    expect(page.locator("#list-view")).to_be_visible()
    expect(page.locator("#invoice-rows tr")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "phone-list")
    assert page_errors == []
