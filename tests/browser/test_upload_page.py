"""The upload page at `/`, in headless Chromium, against the whole stack.

Every card exposes what it applied: `data-task-id`, `data-status`, `data-seqs` (the seqs of the
updates it showed, in order) and `data-received` (every seq that reached it, shown or ignored).
"No update lost or shown twice" is then: `data-seqs` is exactly 1..N, N is the `complete`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from testkit.stack import Stack
from tests.e2e.documents import invoice_png, text_pdf

pytestmark = pytest.mark.e2e

Shot = Callable[[Page, str], Path]
DONE_TIMEOUT_MS = 90_000


def write_invoices(folder: Path, count: int, prefix: str = "invoice") -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"{prefix}-{index + 1}.png"
        path.write_bytes(invoice_png(f"{prefix} {index + 1}"))
        paths.append(path)
    return paths


def open_page(page: Page, stack: Stack) -> None:
    page.goto(stack.base_url + "/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")


def card(page: Page, filename: str) -> Locator:
    return page.locator(".card", has=page.locator(".filename", has_text=filename))


def seqs(locator: Locator, attribute: str = "data-seqs") -> list[int]:
    return [int(seq) for seq in (locator.get_attribute(attribute) or "").split()]


def expect_completed(page: Page, filename: str) -> Locator:
    found = card(page, filename)
    expect(found).to_have_attribute("data-status", "completed", timeout=DONE_TIMEOUT_MS)
    return found


def assert_every_update_once(found: Locator, at_least: int = 3) -> None:
    applied = seqs(found)
    assert applied == list(range(1, len(applied) + 1)), applied
    assert len(applied) >= at_least, applied  # a stage start, (progress,) the end
    # Nothing arrived twice either: after_seq made the gateway resume exactly where we were.
    assert seqs(found, "data-received") == applied


def assert_validation_shown(found: Locator, stack: Stack) -> None:
    """The badge and the findings are the task's `result.validation`, as the gateway has it."""
    task_id = found.get_attribute("data-task-id")
    status = httpx.get(f"{stack.base_url}/api/invoices/status/{task_id}", timeout=10).json()
    validation = status["result"]["validation"]
    expect(found.locator(".validation-badge")).to_have_attribute(
        "data-validation", validation["status"]
    )
    findings = found.locator(".findings li")
    expect(findings).to_have_count(len(validation["issues"]))
    for index, issue in enumerate(validation["issues"]):
        finding = findings.nth(index)
        expect(finding).to_have_attribute("data-code", issue["code"])
        expect(finding).to_have_attribute("data-severity", issue["severity"])
        expect(finding).to_contain_text(issue["message"])


def test_three_files_reach_100_percent_with_their_fields(
    page: Page, stack: Stack, tmp_path: Path, shot: Shot, page_errors: list[str]
) -> None:
    open_page(page, stack)
    shot(page, "empty")
    files = write_invoices(tmp_path, 3)

    page.locator("#file-input").set_input_files(files)

    cards = page.locator("#cards .card")
    expect(cards).to_have_count(3)
    for path in files:
        found = expect_completed(page, path.name)
        bar = found.get_by_role("progressbar", name=f"Progress of {path.name}")
        expect(bar).to_have_attribute("aria-valuenow", "100")
        expect(found.locator(".percent")).to_have_text("100 %")
        expect(found.locator('[data-field="vendor"]')).to_have_text("ACME GmbH")
        expect(found.locator('[data-field="invoice_number"]')).to_have_text("INV-1001")
        expect(found.locator('[data-field="invoice_date"]')).to_have_text("2024-03-15")
        expect(found.locator('[data-field="total"]')).to_have_text("193.00")
        expect(found.locator('[data-field="currency"]')).to_have_text("EUR")
        assert_validation_shown(found, stack)
        expect(found.locator(".failure")).to_be_hidden()
        assert (found.get_attribute("data-task-id") or "").startswith("task_")
        assert_every_update_once(found)
    # In the order picked, each its own task.
    assert cards.locator(".filename").all_inner_texts() == [path.name for path in files]
    assert len({c.get_attribute("data-task-id") for c in cards.all()}) == 3
    shot(page, "completed")
    assert page_errors == []


def test_a_gateway_restart_mid_batch_loses_and_repeats_nothing(
    page: Page, slow_stack: Stack, tmp_path: Path, shot: Shot, page_errors: list[str]
) -> None:
    stack = slow_stack
    open_page(page, stack)
    files = write_invoices(tmp_path, 3, prefix="restart")
    page.locator("#file-input").set_input_files(files)
    # Mid-flight: every card has shown updates, and (3 s per model call) none is done yet.
    for path in files:
        expect(card(page, path.name)).to_have_attribute("data-status", "processing", timeout=30_000)
    before = {path.name: seqs(card(page, path.name)) for path in files}
    shot(page, "before-restart")

    stack.kill("gateway")
    connection = page.locator("#connection")
    expect(connection).to_have_attribute("data-state", "reconnecting", timeout=15_000)
    expect(connection).to_contain_text("reconnecting")
    shot(page, "reconnecting")
    # The last state before the restart: whatever the cards showed while the gateway was gone.
    during = {path.name: seqs(card(page, path.name)) for path in files}
    assert any(card(page, p.name).get_attribute("data-status") != "completed" for p in files)

    stack.start_service("gateway")
    stack.wait_healthy(60)
    expect(connection).to_have_attribute("data-state", "connected", timeout=30_000)
    expect(connection).to_contain_text("connected")

    for path in files:
        found = expect_completed(page, path.name)
        expect(found.locator(".bar")).to_have_attribute("aria-valuenow", "100")
        expect(found.locator('[data-field="total"]')).to_have_text("193.00")
        assert_every_update_once(found)
        applied = seqs(found)
        assert applied[: len(before[path.name])] == before[path.name]
        assert applied[: len(during[path.name])] == during[path.name]
    # The restart really was mid-batch: updates of this batch were shown only after it.
    assert any(len(seqs(card(page, p.name))) > len(during[p.name]) for p in files)
    shot(page, "recovered")
    assert page_errors == []


def test_a_failed_file_shows_its_error_and_can_be_retried(
    page: Page, stack: Stack, tmp_path: Path, shot: Shot, page_errors: list[str]
) -> None:
    open_page(page, stack)
    # 1. A PDF that is not one: past the gateway's magic-byte check, refused by the extractor.
    # Retry sends the same bytes again as a new task, which runs and fails the same way.
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.4 garbage, not a PDF at all")
    page.locator("#file-input").set_input_files(corrupt)
    broken = card(page, corrupt.name)
    expect(broken).to_have_attribute("data-status", "error", timeout=DONE_TIMEOUT_MS)
    expect(broken.locator(".error-code")).to_have_text("corrupt_document")
    expect(broken.locator(".error-message")).not_to_be_empty()
    retry = broken.get_by_role("button", name=f"Retry {corrupt.name}")
    expect(retry).to_be_visible()
    first_task = broken.get_attribute("data-task-id")
    shot(page, "corrupt-error")

    retry.click()
    expect(broken).to_have_attribute("data-attempt", "2")
    expect(broken).to_have_attribute("data-status", "error", timeout=DONE_TIMEOUT_MS)
    second_task = broken.get_attribute("data-task-id")
    assert second_task and second_task.startswith("task_") and second_task != first_task
    expect(broken.locator(".error-code")).to_have_text("corrupt_document")
    assert_every_update_once(broken, at_least=2)  # a fresh task: its own seqs from 1

    # 2. A file that fails only the first time: the model refuses it. Retry re-sends the kept
    # File with the options as they are now (the model field cleared), and the file completes.
    refused = tmp_path / "refused.pdf"
    refused.write_bytes(text_pdf())
    page.locator("summary", has_text="Options").click()
    page.get_by_label("Model").fill("fake-refuse")
    page.locator("#file-input").set_input_files(refused)
    failing = card(page, refused.name)
    expect(failing).to_have_attribute("data-status", "error", timeout=DONE_TIMEOUT_MS)
    expect(failing.locator(".error-code")).to_have_text("provider_refused")
    shot(page, "refused-error")

    page.get_by_label("Model").fill("")
    failing.get_by_role("button", name=f"Retry {refused.name}").click()
    expect(failing).to_have_attribute("data-status", "completed", timeout=DONE_TIMEOUT_MS)
    expect(failing.locator('[data-field="total"]')).to_have_text("193.00")
    expect(failing.locator(".failure")).to_be_hidden()
    assert_every_update_once(failing)
    shot(page, "retried")
    assert page_errors == []


def test_keyboard_screen_reader_and_phone_width(
    browser_page_390: Page, stack: Stack, tmp_path: Path, shot: Shot, page_errors: list[str]
) -> None:
    page = browser_page_390
    open_page(page, stack)

    # The drop zone's button is reachable by Tab and opens the file picker with Enter or Space.
    # A standing listener keeps Chromium's file chooser interception on: `expect_file_chooser`
    # alone turns it on asynchronously and a quick key press can beat it.
    page.on("filechooser", lambda _chooser: None)
    pick = page.locator("#pick-files")
    for _ in range(5):
        page.keyboard.press("Tab")
        if pick.evaluate("element => element === document.activeElement"):
            break
    expect(pick).to_be_focused()
    expect(pick).to_have_accessible_name("Choose files")
    files = write_invoices(tmp_path, 3, prefix="keyboard")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    assert chooser.value.is_multiple()
    chooser.value.set_files(files[:2])
    expect(page.locator("#cards .card")).to_have_count(2)
    # Focus stays on the button; Space opens the picker again (once the first one is closed).
    expect(pick).to_be_focused()
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(files[2:])
    expect(page.locator("#cards .card")).to_have_count(3)

    # Progress bars and the retry buttons are named after their file; stages are announced
    # politely, not with every percent.
    for path in files:
        expect(page.get_by_role("progressbar", name=f"Progress of {path.name}")).to_be_visible()
    for path in files:
        found = expect_completed(page, path.name)
        announce = found.locator(".announce")
        expect(announce).to_have_attribute("aria-live", "polite")
        expect(announce).to_contain_text(f"{path.name}: done")
    expect(page.locator("#connection-text")).to_have_attribute("role", "status")

    # Dropping a file on the drop zone uploads it too.
    page.locator("#drop-zone").evaluate(
        """(zone, base64) => {
            const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        }""",
        base64.b64encode(invoice_png("dropped")).decode(),
    )
    dropped = expect_completed(page, "dropped.png")
    expect(dropped.locator('[data-field="total"]')).to_have_text("193.00")

    # A phone: nothing wider than the screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    page.locator("summary", has_text="Options").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-390")
    assert page_errors == []


def test_more_than_twenty_files_are_refused_with_a_clear_message(
    page: Page, stack: Stack, tmp_path: Path, shot: Shot
) -> None:
    open_page(page, stack)
    files = []
    for index in range(21):
        path = tmp_path / f"many-{index}.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n")  # never uploaded
        files.append(path)

    page.locator("#file-input").set_input_files(files)

    message = page.locator("#form-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("21 files")
    expect(message).to_contain_text("at most 20")
    expect(page.locator("#cards .card")).to_have_count(0)
    shot(page, "too-many")


def test_a_gateway_with_api_keys_asks_for_one_and_keeps_tenants_apart(
    page: Page,
    make_stack: Callable[..., Stack],
    model_url: str,
    tmp_path: Path,
    shot: Shot,
) -> None:
    stack = make_stack(model_url, INVOICEFLOW_API_KEYS="page-key:tenant-page,other-key:other")
    open_page(page, stack)
    (document,) = write_invoices(tmp_path, 1, prefix="keyed")

    # No key yet: the upload is refused and the card says where the key goes.
    page.locator("#file-input").set_input_files(document)
    refused = card(page, document.name)
    expect(refused).to_have_attribute("data-status", "error", timeout=DONE_TIMEOUT_MS)
    expect(refused.locator(".error-code")).to_have_text("unauthorized")
    expect(refused.locator(".error-message")).to_contain_text("API key")
    shot(page, "no-key")

    # With the key: Retry runs the same file for that tenant; the socket needs only the token.
    page.locator("summary", has_text="Options").click()
    page.get_by_label("API key").fill("page-key")
    page.get_by_label("API key").dispatch_event("change")
    refused.get_by_role("button", name=f"Retry {document.name}").click()
    done = expect_completed(page, document.name)
    assert_every_update_once(done)
    shot(page, "with-key")

    task_id = done.get_attribute("data-task-id")
    mine = httpx.get(
        f"{stack.base_url}/api/invoices",
        headers={"Authorization": "Bearer page-key"},
        timeout=10,
    ).json()
    theirs = httpx.get(
        f"{stack.base_url}/api/invoices",
        headers={"Authorization": "Bearer other-key"},
        timeout=10,
    ).json()
    assert [item["task_id"] for item in mine["items"]] == [task_id]
    assert theirs["items"] == []
