"""Reading a task's document: our own blobs from the object store, anything else over HTTP(S)
only from allowlisted hosts (the blob URL comes from a client, so this is an SSRF boundary)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

from contracts import ErrorCode
from services.worker.errors import PermanentError, TransientError

log = logging.getLogger(__name__)

# `read_blob(blob_id, max_bytes)`: the stored bytes, or None when there is no such blob. It
# raises `PermanentError(file_too_large)` itself when the stored size is over the limit.
ReadBlob = Callable[[str, int], Awaitable[bytes | None]]
# `keep_blob(data, content_type)`: stores a document fetched from elsewhere with the uploads,
# under its sha256, so that the invoice saved from it has its document.
KeepBlob = Callable[[bytes, str], Awaitable[None]]
Resolve = Callable[[str, int], Awaitable[list[str]]]

_BLOB_PATH = re.compile(r"^/blobs/([0-9a-f]{64})$")
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


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
        ports = (a.port or _DEFAULT_PORTS.get(a.scheme), b.port or _DEFAULT_PORTS.get(b.scheme))
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


def host_allowed(host: str, allowed: tuple[str, ...]) -> tuple[bool, bool]:
    """(allowed at all, named explicitly). Only an explicit entry may reach private addresses."""
    host = host.lower().rstrip(".")
    if host in allowed:
        return True, True
    for entry in allowed:
        if entry == "*" or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True, False
    return False, False


# IPv6 forms that only spell an IPv4 address: judged as that address.
_SPELLS_IPV4 = (
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (RFC 2765)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix (RFC 6052)
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated; `::7f00:1`), `::`, `::1`
)
# Local-use NAT64 (RFC 8215): translated by a gateway of the network's own choosing.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def spelled_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address merely writes differently (mapped, translated, NAT64,
    compatible), or None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if any(ip in network for network in _SPELLS_IPV4):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def tunnelled_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a 6to4 or Teredo address carries: a relay would reach them."""
    found = [ip.sixtofour] if ip.sixtofour is not None else []
    if ip.teredo is not None:
        found += list(ip.teredo)
    return found


def is_public_address(address: str) -> bool:
    """Public unicast: not loopback, private, link-local, shared, reserved or multicast, in
    whatever IPv6 spelling an IPv4 address comes (`::ffff:127.0.0.1`, `::7f00:1`,
    `64:ff9b::7f00:1`), nor tunnelling to such an address (6to4 `2002::/16`, Teredo)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        spelled = spelled_ipv4(ip)
        if spelled is not None:
            return _public(spelled)
        if ip in _LOCAL_NAT64 or not all(_public(v4) for v4 in tunnelled_ipv4(ip)):
            return False
    return _public(ip)


async def resolve_host(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # IPv4 first: it is what most hosts serve reliably.
    return sorted({str(info[4][0]) for info in infos}, key=lambda a: (":" in a, a))


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
    client: httpx.AsyncClient, target: _Target, url: str, policy: FetchPolicy
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


@dataclass(frozen=True)
class _Target:
    url: httpx.URL
    host_header: str
    extensions: dict[str, str]


async def _pinned_target(url: str, policy: FetchPolicy, resolve: Resolve) -> _Target:
    """Check the URL against the policy and connect to the very address that was checked:
    resolving again at connect time would let DNS rebinding reach an internal address."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise PermanentError(ErrorCode.BLOB_URL_FORBIDDEN, "not a valid URL") from exc
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.host:
        raise PermanentError(ErrorCode.BLOB_URL_FORBIDDEN, "only http(s) URLs can be fetched")
    if parsed.userinfo:
        raise PermanentError(ErrorCode.BLOB_URL_FORBIDDEN, "URLs with credentials are refused")
    # `localhost.` is `localhost`: checked and resolved without the root's dot.
    host = parsed.host.rstrip(".")
    if not host:
        raise PermanentError(ErrorCode.BLOB_URL_FORBIDDEN, "the URL names no host")
    allowed, explicit = host_allowed(host, policy.allowed_hosts)
    if not allowed:
        raise PermanentError(ErrorCode.BLOB_URL_FORBIDDEN, f"host {host} is not allowed")
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    try:
        addresses = await resolve(host, port)
    except OSError as exc:
        raise TransientError(ErrorCode.FETCH_FAILED, f"cannot resolve {host}") from exc
    if not addresses:
        raise TransientError(ErrorCode.FETCH_FAILED, f"{host} has no address")
    if not explicit and not all(is_public_address(a) for a in addresses):
        raise PermanentError(
            ErrorCode.BLOB_URL_FORBIDDEN, f"host {host} resolves to a non-public address"
        )
    name = f"[{host}]" if ":" in host else host
    host_header = name if parsed.port is None else f"{name}:{parsed.port}"
    # Connect to the checked IP; TLS still verifies the certificate against the host name.
    return _Target(
        url=parsed.copy_with(host=addresses[0]),
        host_header=host_header,
        extensions={"sni_hostname": host} if parsed.scheme == "https" else {},
    )


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
