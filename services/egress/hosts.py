"""The host policy of every outbound request to a URL a client gave (`blob_url`, webhook URLs).

Only http(s), no credentials in the URL, hosts on `INVOICEFLOW_FETCH_ALLOWED_HOSTS` (`*` any
public one); loopback, private, link-local and other non-public addresses only when the host is
listed by name. `pin` resolves once and returns the checked address to connect to: resolving
again at connect time would let DNS rebinding reach an internal address. Callers never follow
redirects. Knows nothing of what the URL is for: callers turn the refusals into their own codes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import httpx
from pydantic import BeforeValidator
from pydantic_settings import NoDecode

Resolve = Callable[[str, int], Awaitable[list[str]]]

DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlRefusedError(ValueError):
    """The policy refuses the URL itself; the message says why, in words."""


class UrlUnresolvedError(OSError):
    """The host has no address now: may work later (DNS changes)."""


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


@dataclass(frozen=True)
class PinnedTarget:
    """Where to connect: the URL with the checked address for its host, the `Host` header,
    and the TLS server name (the certificate is still checked against the host name)."""

    url: httpx.URL
    host_header: str
    extensions: dict[str, str]


def checked_url(url: str, allowed_hosts: tuple[str, ...]) -> tuple[httpx.URL, str, bool]:
    """The parsed URL, its host and whether the host is listed by name; refuses what the
    policy refuses without looking the host up."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UrlRefusedError("not a valid URL") from exc
    if parsed.scheme not in DEFAULT_PORTS or not parsed.host:
        raise UrlRefusedError("only http(s) URLs are allowed")
    if parsed.userinfo:
        raise UrlRefusedError("URLs with credentials are refused")
    # `localhost.` is `localhost`: checked and resolved without the root's dot.
    host = parsed.host.rstrip(".")
    if not host:
        raise UrlRefusedError("the URL names no host")
    allowed, explicit = host_allowed(host, allowed_hosts)
    if not allowed:
        raise UrlRefusedError(f"host {host} is not allowed")
    return parsed, host, explicit


async def pin(
    url: str, allowed_hosts: tuple[str, ...], resolve: Resolve = resolve_host
) -> PinnedTarget:
    """Check `url` against the policy, resolve it once and pin the checked address."""
    parsed, host, explicit = checked_url(url, allowed_hosts)
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    try:
        addresses = await resolve(host, port)
    except OSError as exc:
        raise UrlUnresolvedError(f"cannot resolve {host}") from exc
    if not addresses:
        raise UrlUnresolvedError(f"{host} has no address")
    if not explicit and not all(is_public_address(a) for a in addresses):
        raise UrlRefusedError(f"host {host} resolves to a non-public address")
    name = f"[{host}]" if ":" in host else host
    host_header = name if parsed.port is None else f"{name}:{parsed.port}"
    return PinnedTarget(
        url=parsed.copy_with(host=addresses[0]),
        host_header=host_header,
        extensions={"sni_hostname": host} if parsed.scheme == "https" else {},
    )


def allowed_hosts_list(value: object) -> object:
    """`INVOICEFLOW_FETCH_ALLOWED_HOSTS` as the settings read it: comma-separated, lower case."""
    if isinstance(value, str):
        return tuple(host.strip().lower() for host in value.split(",") if host.strip())
    return value


# The settings field of every service that reaches clients' URLs (extractor, gateway, persister):
# exact names, `*.example.com`, or `*` (any public host).
AllowedHosts = Annotated[tuple[str, ...], NoDecode, BeforeValidator(allowed_hosts_list)]
