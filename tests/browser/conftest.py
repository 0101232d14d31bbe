"""The upload page in headless Chromium (Debian's `chromium`, driven by Playwright for Python).

No browser is downloaded: Playwright launches the system's chromium through `executable_path`.
When it is missing and we are root with apt-get, the fixture installs Debian's package; where no
browser can be had, the tests skip and say why. The stacks are the e2e harness's processes
(testkit/stack.py) on a nats-server and a database of their own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from testkit.stack import REPO, Stack, Stacks
from tests.e2e.conftest import fake_model, fresh_database

pytestmark = pytest.mark.e2e

ARTIFACTS = REPO / "tests" / "artifacts" / "browser"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
APT_TIMEOUT_SECONDS = 1200
# This network is closed: no QUIC, no component/sync/first-run traffic; containers need no sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    if path := os.environ.get("INVOICEFLOW_CHROMIUM"):
        return path if Path(path).exists() else None
    for name in CHROMIUM_CANDIDATES:
        if found := shutil.which(name):
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def install_chromium() -> str:
    """Debian's chromium via apt-get; the reason it cannot be had is the skip message."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        raise RuntimeError("chromium is not installed and we are not root to apt-get install it")
    apt = shutil.which("apt-get")
    if apt is None:
        raise RuntimeError("chromium is not installed and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update"], [apt, "install", "-y", "chromium"]):
        try:
            done = subprocess.run(
                command,
                env=env,
                capture_output=True,
                text=True,
                timeout=APT_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{' '.join(command)} took over {APT_TIMEOUT_SECONDS} s") from exc
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-5:])
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {tail}")
    if found := find_chromium():
        return found
    raise RuntimeError("apt-get installed chromium but no chromium executable was found")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if found := find_chromium():
        return found
    try:
        return install_chromium()
    except RuntimeError as exc:
        pytest.skip(f"no headless browser for the page tests: {exc}")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Module scope: Playwright's sync API runs its own event loop, which must be gone before
    # another module's async tests use the suite's session loop.
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    try:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    except Exception as exc:  # a broken or incompatible browser: say so instead of erroring
        pytest.skip(f"chromium at {chromium_path} does not start under Playwright: {exc}")
    yield launched
    launched.close()


@pytest.fixture
def page_errors() -> list[str]:
    return []


def watched_page(browser: Browser, page_errors: list[str], **context_options: Any) -> Page:
    """A page in a fresh context; uncaught script errors and CSP violations are collected."""
    context = browser.new_context(**context_options)
    opened = context.new_page()
    opened.on("pageerror", lambda exc: page_errors.append(f"pageerror: {exc}"))
    opened.on(
        "console",
        lambda message: (
            page_errors.append(f"console: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return opened


@pytest.fixture
def page(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    opened = watched_page(browser, page_errors, viewport={"width": 1100, "height": 900})
    yield opened
    opened.context.close()


def phone_page(browser: Browser, page_errors: list[str], width: int, height: int) -> Page:
    """A phone `width` CSS px wide, touch, honouring the page's viewport meta."""
    return watched_page(
        browser,
        page_errors,
        viewport={"width": width, "height": height},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )


@pytest.fixture
def browser_page_390(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    """A phone: 390 CSS px wide."""
    opened = phone_page(browser, page_errors, 390, 844)
    yield opened
    opened.context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """`shot(page, "moment")` saves tests/artifacts/browser/<test>-<moment>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = request.node.name.removeprefix("test_")

    def take(page: Page, moment: str) -> Path:
        path = ARTIFACTS / f"{test}-{moment}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def create_database(database_url: str) -> str:
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, fresh_database(database_url)).result(timeout=60)


@pytest.fixture(scope="module")
def make_stack(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Stack]]:
    """Start stacks (all four services) with a nats-server of their own; stop them afterwards."""
    stacks = Stacks(create_database(database_url), tmp_path_factory.mktemp("browser-stacks"))
    yield stacks.make
    stacks.stop()


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    with fake_model() as url:
        yield url


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., Stack], model_url: str) -> Stack:
    """One quick stack shared by the tests that do not restart anything."""
    return make_stack(model_url)


@pytest.fixture
def slow_stack(make_stack: Callable[..., Stack]) -> Iterator[Stack]:
    """A stack of its own whose model takes 3 s per call: a batch is still running when the
    test breaks something."""
    with fake_model(latency=3.0) as url:
        yield make_stack(url)
