"""Which browser origins may open /ws (Starlette's CORS middleware does not cover WebSockets)."""

from __future__ import annotations

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
    """The gateway's own origins: the one its page was served from, and its public URL."""
    found: set[str] = set()
    if host:
        http_scheme = "https" if scheme in ("wss", "https") else "http"
        found.add(normalise(f"{http_scheme}://{host}"))
    if public_url and (public := origin_of(public_url)):
        found.add(public)
    return found


def origin_allowed(origin: str | None, allowed: Iterable[str], own: Iterable[str] = ()) -> bool:
    """No `Origin` header: not a browser (browsers always send one on a WebSocket handshake)."""
    if origin is None:
        return True
    origin = normalise(origin)
    allowed = set(allowed)
    return "*" in allowed or origin in allowed or origin in set(own)
