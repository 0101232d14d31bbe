"""Reading documents: own blobs from the store, other URLs only from allowed, public hosts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from contracts import ErrorCode
from services.extractor.fetch import (
    FetchPolicy,
    fetch_document,
    own_blob_id,
)
from services.worker.errors import PermanentError, StageError, TransientError
from tests.fakes.asgi import Receive, Scope, Send, respond, serving

BLOB = "ab" * 32
PUBLIC = "http://localhost:8000"
DOCUMENT = b"%PDF-1.4 pretend document"


@dataclass
class DocumentServer:
    """Serves a few paths; remembers the Host header of each request."""

    hosts: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        self.hosts.append(headers.get(b"host", b"").decode())
        path = scope["path"]
        if path == "/doc.pdf":
            await respond(send, 200, DOCUMENT, content_type="application/pdf")
        elif path == "/streamed-big":
            # No content-length: the limit must hold while reading.
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(4):
                await send({"type": "http.response.body", "body": b"x" * 400, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/drip":
            # Never idle long enough for a per-read timeout, never done either.
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(50):
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
                await asyncio.sleep(0.1)
            await send({"type": "http.response.body", "body": b""})
        elif path == "/declared-big":
            await respond(send, 200, b"x" * 2000)
        elif path == "/redirect":
            await respond(send, 302, b"", {"location": "http://169.254.169.254/latest"})
        elif path == "/busy":
            await respond(send, 503, b"")
        else:
            await respond(send, 404, b"")


@pytest.fixture
async def server() -> AsyncIterator[tuple[DocumentServer, int]]:
    app = DocumentServer()
    async with serving(app) as port:
        yield app, port


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as http:
        yield http


def policy(
    *hosts: str, public_url: str | None = PUBLIC, max_bytes: int = 1000, timeout: float = 5.0
) -> FetchPolicy:
    return FetchPolicy(
        public_url=public_url, allowed_hosts=hosts, max_bytes=max_bytes, timeout_seconds=timeout
    )


async def no_blob(blob_id: str, max_bytes: int) -> bytes | None:
    raise AssertionError("the blob store must not be used for this URL")


# --- recognising our own blob URLs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "public_url", "expected"),
    [
        (f"http://localhost:8000/blobs/{BLOB}", PUBLIC, BLOB),
        (f"http://127.0.0.1:8000/blobs/{BLOB}", PUBLIC, BLOB),  # loopback names alike
        (f"https://files.example.com/blobs/{BLOB}", "https://files.example.com", BLOB),
        (f"https://files.example.com:443/blobs/{BLOB}", "https://files.example.com", BLOB),
        (f"http://127.0.0.1:9999/blobs/{BLOB}", PUBLIC, None),  # other port
        (f"https://localhost:8000/blobs/{BLOB}", PUBLIC, None),  # other scheme
        (f"http://evil.example/blobs/{BLOB}", PUBLIC, None),  # other host
        (f"http://anything.example/blobs/{BLOB}", None, BLOB),  # no public URL configured
        (f"http://localhost:8000/blobs/{BLOB.upper()}", PUBLIC, None),
        (f"http://localhost:8000/blobs/{BLOB}/../x", PUBLIC, None),
        (f"http://localhost:8000/blobs/{BLOB}?x=1", PUBLIC, None),
        ("http://localhost:8000/blobs/abc", PUBLIC, None),
    ],
)
def test_own_blob_urls_are_recognised(url: str, public_url: str | None, expected: str) -> None:
    assert own_blob_id(url, public_url) == expected


async def test_own_blob_is_read_from_the_store(client: httpx.AsyncClient) -> None:
    asked: list[tuple[str, int]] = []

    async def read_blob(blob_id: str, max_bytes: int) -> bytes | None:
        asked.append((blob_id, max_bytes))
        return DOCUMENT

    data = await fetch_document(
        f"http://127.0.0.1:8000/blobs/{BLOB}", policy=policy(), read_blob=read_blob, client=client
    )

    assert data == DOCUMENT and asked == [(BLOB, 1000)]


async def test_missing_own_blob_is_blob_not_found(client: httpx.AsyncClient) -> None:
    async def read_blob(blob_id: str, max_bytes: int) -> bytes | None:
        return None

    with pytest.raises(PermanentError) as caught:
        await fetch_document(
            f"{PUBLIC}/blobs/{BLOB}", policy=policy(), read_blob=read_blob, client=client
        )
    assert caught.value.code == ErrorCode.BLOB_NOT_FOUND


async def test_own_blob_over_the_limit_is_too_large(client: httpx.AsyncClient) -> None:
    async def read_blob(blob_id: str, max_bytes: int) -> bytes | None:
        return b"x" * (max_bytes + 1)

    with pytest.raises(PermanentError) as caught:
        await fetch_document(
            f"{PUBLIC}/blobs/{BLOB}", policy=policy(), read_blob=read_blob, client=client
        )
    assert caught.value.code == ErrorCode.FILE_TOO_LARGE


async def fetch_error(url: str, fetch_policy: FetchPolicy, client: httpx.AsyncClient) -> StageError:
    with pytest.raises(StageError) as caught:
        await fetch_document(url, policy=fetch_policy, read_blob=no_blob, client=client)
    return caught.value


@pytest.mark.parametrize(
    "url",
    [
        "http://not-listed.example/doc.pdf",
        "ftp://docs.example/doc.pdf",
        "file:///etc/passwd",
        "http://user:secret@docs.example/doc.pdf",
        "not a url at all",
    ],
)
async def test_urls_outside_the_policy_are_forbidden(url: str, client: httpx.AsyncClient) -> None:
    error = await fetch_error(url, policy("docs.example"), client)

    assert isinstance(error, PermanentError) and error.code == ErrorCode.BLOB_URL_FORBIDDEN


async def test_wildcard_host_resolving_to_loopback_is_forbidden(
    server: tuple[DocumentServer, int], client: httpx.AsyncClient
) -> None:
    app, port = server

    error = await fetch_error(f"http://localhost:{port}/doc.pdf", policy("*"), client)

    assert error.code == ErrorCode.BLOB_URL_FORBIDDEN and not app.hosts


async def test_every_resolved_address_is_checked(client: httpx.AsyncClient) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(PermanentError) as caught:
        await fetch_document(
            "http://mixed.example/doc.pdf",
            policy=policy("*.example"),
            read_blob=no_blob,
            client=client,
            resolve=resolve,
        )
    assert caught.value.code == ErrorCode.BLOB_URL_FORBIDDEN


# --- fetching over HTTP ---------------------------------------------------------------------


async def test_explicitly_allowed_host_is_fetched(
    server: tuple[DocumentServer, int], client: httpx.AsyncClient
) -> None:
    _, port = server

    data = await fetch_document(
        f"http://127.0.0.1:{port}/doc.pdf",
        policy=policy("127.0.0.1"),
        read_blob=no_blob,
        client=client,
    )

    assert data == DOCUMENT


async def test_connection_goes_to_the_checked_address_with_the_original_host(
    server: tuple[DocumentServer, int], client: httpx.AsyncClient
) -> None:
    # DNS rebinding defence: the name is resolved once, and that very address is used.
    app, port = server
    resolved: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    data = await fetch_document(
        f"http://docs.internal:{port}/doc.pdf",
        policy=policy("docs.internal"),
        read_blob=no_blob,
        client=client,
        resolve=resolve,
    )

    assert data == DOCUMENT
    assert resolved == ["docs.internal"] and app.hosts == [f"docs.internal:{port}"]


@pytest.mark.parametrize(
    ("path", "code", "kind"),
    [
        ("/redirect", ErrorCode.FETCH_FAILED, PermanentError),
        ("/missing", ErrorCode.FETCH_FAILED, PermanentError),
        ("/busy", ErrorCode.FETCH_FAILED, TransientError),
        ("/streamed-big", ErrorCode.FILE_TOO_LARGE, PermanentError),
        ("/declared-big", ErrorCode.FILE_TOO_LARGE, PermanentError),
    ],
)
async def test_http_failures_are_coded(
    server: tuple[DocumentServer, int],
    client: httpx.AsyncClient,
    path: str,
    code: ErrorCode,
    kind: type[StageError],
) -> None:
    app, port = server

    error = await fetch_error(f"http://127.0.0.1:{port}{path}", policy("127.0.0.1"), client)

    assert type(error) is kind and error.code == code
    assert len(app.hosts) == 1  # a redirect is never followed


async def test_unreachable_host_is_transient(client: httpx.AsyncClient) -> None:
    async with serving(DocumentServer()) as port:
        pass  # the port is closed again: nothing listens there now

    error = await fetch_error(f"http://127.0.0.1:{port}/doc.pdf", policy("127.0.0.1"), client)

    assert isinstance(error, TransientError) and error.code == ErrorCode.FETCH_FAILED


async def test_a_slow_drip_hits_the_overall_deadline(
    server: tuple[DocumentServer, int], client: httpx.AsyncClient
) -> None:
    _, port = server
    started = time.monotonic()

    error = await fetch_error(
        f"http://127.0.0.1:{port}/drip", policy("127.0.0.1", timeout=0.5), client
    )

    assert isinstance(error, TransientError) and error.code == ErrorCode.FETCH_FAILED
    assert "took over" in error.message and time.monotonic() - started < 3
