"""A POST to a registered URL: a 2xx succeeds; another status, a redirect, no answer in time,
no connection or a refused URL fail, each said in words."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from services.egress.post import Poster
from tests.fakes.asgi import Receive, Scope, Send, read_body, respond, serving

ALLOWED = ("127.0.0.1",)


class Receiver:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.bodies: list[bytes] = []
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"])
        self.bodies.append(await read_body(receive))
        if scope["path"] == "/ok":
            await respond(send, 204, b"")
        elif scope["path"] == "/broken":
            await respond(send, 500, b"{}")
        elif scope["path"] == "/moved":
            await respond(send, 302, b"", headers={"location": "/ok"})
        else:  # /slow
            await self.release.wait()
            await respond(send, 200, b"")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    app = Receiver()
    async with serving(app) as port:
        yield app, f"http://127.0.0.1:{port}"
        app.release.set()


async def test_a_2xx_succeeds_and_the_body_and_headers_go_as_given(
    receiver: tuple[Receiver, str],
) -> None:
    app, base = receiver
    poster = Poster(ALLOWED, timeout_seconds=5)
    try:
        outcome = await poster.post(f"{base}/ok", b'{"a":1}', {"X-Test": "1"})
    finally:
        await poster.aclose()
    assert outcome.succeeded and outcome.status_code == 204 and outcome.error is None
    assert app.bodies == [b'{"a":1}']


async def test_other_statuses_and_redirects_fail(receiver: tuple[Receiver, str]) -> None:
    app, base = receiver
    poster = Poster(ALLOWED, timeout_seconds=5)
    try:
        broken = await poster.post(f"{base}/broken", b"{}", {})
        moved = await poster.post(f"{base}/moved", b"{}", {})
    finally:
        await poster.aclose()
    assert (broken.succeeded, broken.status_code, broken.error) == (False, 500, "answered 500")
    assert not moved.succeeded and moved.error and "redirects are not followed" in moved.error
    assert app.paths == ["/broken", "/moved"]  # the redirect's target was never asked


async def test_no_answer_within_the_timeout_fails(receiver: tuple[Receiver, str]) -> None:
    _, base = receiver
    poster = Poster(ALLOWED, timeout_seconds=0.3)
    try:
        outcome = await poster.post(f"{base}/slow", b"{}", {})
    finally:
        await poster.aclose()
    assert (outcome.status_code, outcome.error) == (None, "no answer within 0.3 s")


async def test_no_connection_fails() -> None:
    with socket.socket() as sock:  # a port nothing listens on once this closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    poster = Poster(ALLOWED, timeout_seconds=5)
    try:
        outcome = await poster.post(f"http://127.0.0.1:{port}/x", b"{}", {})
    finally:
        await poster.aclose()
    assert (outcome.status_code, outcome.error) == (None, "could not connect to the URL")


async def test_a_url_the_policy_refuses_is_not_requested(receiver: tuple[Receiver, str]) -> None:
    app, base = receiver
    poster = Poster(("hooks.example",), timeout_seconds=5)
    try:
        outcome = await poster.post(f"{base}/ok", b"{}", {})
    finally:
        await poster.aclose()
    assert outcome.error and outcome.error.startswith("the URL is refused by the host policy")
    assert app.paths == []
