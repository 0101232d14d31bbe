"""Which browser origins may open /ws (Starlette's CORS middleware does not cover WebSockets)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit


def normalise(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, or None when it has none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return normalise(f"{parts.scheme}://{parts.netloc}")


def own_origins(scheme: str, host: str | None, public_url: str | None) -> set[str]:
    """The gateway's own origins, which may open /ws besides the allowlist.

    The `Host` header is the client's to choose: a DNS-rebinding page (its name pointed at the
    gateway's address) sends its own name as both `Host` and `Origin`. So with
    INVOICEFLOW_PUBLIC_URL set, its origin is the only own one; without, the origin the page
    was served from counts only when that is a loopback name (`make dev` on localhost).
    """
    if public_url:
        public = origin_of(public_url)
        return {public} if public else set()
    if host and is_loopback_host(host):
        http_scheme = "https" if scheme in ("wss", "https") else "http"
        return {normalise(f"{http_scheme}://{host}")}
    return set()


def is_loopback_host(host: str) -> bool:
    """`localhost`, `127.0.0.1:8000`, `[::1]:8000`: a host (and port) on this machine only."""
    try:
        name = urlsplit(f"//{host}").hostname
    except ValueError:
        return False
    if not name:
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin_allowed(origin: str | None, allowed: Iterable[str], own: Iterable[str] = ()) -> bool:
    """No `Origin` header: not a browser (browsers always send one on a WebSocket handshake)."""
    if origin is None:
        return True
    origin = normalise(origin)
    allowed = set(allowed)
    return "*" in allowed or origin in allowed or origin in set(own)
