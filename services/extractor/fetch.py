"""Reading a task's document: our own blobs from the object store, anything else over HTTP(S)
only from allowlisted hosts (the blob URL comes from a client, so this is an SSRF boundary)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

from contracts import ErrorCode
from services.egress.hosts import (
    DEFAULT_PORTS,
    PinnedTarget,
    Resolve,
    UrlRefusedError,
    UrlUnresolvedError,
    pin,
    resolve_host,
)
from services.worker.errors import PermanentError, TransientError

log = logging.getLogger(__name__)

# `read_blob(blob_id, max_bytes)`: the stored bytes, or None when there is no such blob. It
# raises `PermanentError(file_too_large)` itself when the stored size is over the limit.
ReadBlob = Callable[[str, int], Awaitable[bytes | None]]
# `keep_blob(data, content_type)`: stores a document fetched from elsewhere with the uploads,
# under its sha256, so that the invoice saved from it has its document.
KeepBlob = Callable[[bytes, str], Awaitable[None]]

_BLOB_PATH = re.compile(r"^/blobs/([0-9a-f]{64})$")
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class FetchPolicy:
    public_url: str | None
    allowed_hosts: tuple[str, ...]
    max_bytes: int
    timeout_seconds: float


def own_blob_id(url: str, public_url: str | None) -> str | None:
    """The blob id when `url` points at our own `/blobs/<sha256>`, else None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    match = _BLOB_PATH.match(parts.path)
    if match is None or parts.query or parts.fragment:
        return None
    if public_url is None:
        return match.group(1)
    return match.group(1) if _same_origin(parts, urlsplit(public_url)) else None


def _same_origin(a: SplitResult, b: SplitResult) -> bool:
    try:
        ports = (a.port or DEFAULT_PORTS.get(a.scheme), b.port or DEFAULT_PORTS.get(b.scheme))
    except ValueError:
        return False
    return (
        a.scheme == b.scheme
        and _host_key(a.hostname) == _host_key(b.hostname)
        and (ports[0] == ports[1])
    )


def _host_key(host: str | None) -> str:
    # The gateway may be configured as localhost while a client says 127.0.0.1, or vice versa.
    host = (host or "").lower()
    return "loopback" if host in _LOOPBACK_NAMES else host


async def fetch_document(
    url: str,
    *,
    policy: FetchPolicy,
    read_blob: ReadBlob,
    client: httpx.AsyncClient,
    resolve: Resolve = resolve_host,
) -> bytes:
    blob_id = own_blob_id(url, policy.public_url)
    if blob_id is not None:
        data = await read_blob(blob_id, policy.max_bytes)
        if data is None:
            raise PermanentError(ErrorCode.BLOB_NOT_FOUND, f"no stored blob {blob_id}")
        _check_size(len(data), policy.max_bytes)
        return data
    return await _fetch_http(url, policy=policy, client=client, resolve=resolve)


async def _fetch_http(
    url: str, *, policy: FetchPolicy, client: httpx.AsyncClient, resolve: Resolve
) -> bytes:
    target = await _pinned_target(url, policy, resolve)
    try:
        # httpx's timeout is per read; the deadline bounds a server that drips bytes slowly.
        async with asyncio.timeout(policy.timeout_seconds):
            return await _download(client, target, url, policy)
    except TimeoutError as exc:
        raise TransientError(
            ErrorCode.FETCH_FAILED, f"fetching the document took over {policy.timeout_seconds} s"
        ) from exc
    except httpx.TransportError as exc:
        log.info("fetching a document failed: %r", exc)
        raise TransientError(
            ErrorCode.FETCH_FAILED, "could not fetch the document: the connection failed"
        ) from exc


async def _download(
    client: httpx.AsyncClient, target: PinnedTarget, url: str, policy: FetchPolicy
) -> bytes:
    async with client.stream(
        "GET",
        target.url,
        # identity: a compressed body could inflate far past the size limit in one chunk.
        headers={"Host": target.host_header, "Accept-Encoding": "identity"},
        extensions=target.extensions,
        follow_redirects=False,
        timeout=policy.timeout_seconds,
    ) as response:
        _check_status(response.status_code, url)
        declared = response.headers.get("content-length", "")
        if declared.isdigit():
            _check_size(int(declared), policy.max_bytes)
        body = bytearray()
        async for chunk in response.aiter_raw():
            body.extend(chunk)
            _check_size(len(body), policy.max_bytes)
        return bytes(body)


async def _pinned_target(url: str, policy: FetchPolicy, resolve: Resolve) -> PinnedTarget:
    """The host policy (services/egress/hosts.py) as this stage's errors."""
    try:
        return await pin(url, policy.allowed_hosts, resolve)
    except UrlRefusedError as exc:
        raise PermanentError(ErrorCode.BLOB_URL_FORBIDDEN, str(exc)) from exc
    except UrlUnresolvedError as exc:
        raise TransientError(ErrorCode.FETCH_FAILED, str(exc)) from exc


def _check_status(status: int, url: str) -> None:
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise PermanentError(ErrorCode.FETCH_FAILED, f"{url} redirects; redirects are not followed")
    if status in {408, 429} or status >= 500:
        raise TransientError(ErrorCode.FETCH_FAILED, f"{url} answered {status}")
    raise PermanentError(ErrorCode.FETCH_FAILED, f"{url} answered {status}")


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise PermanentError(
            ErrorCode.FILE_TOO_LARGE, f"the document is over the limit of {max_bytes} bytes"
        )
