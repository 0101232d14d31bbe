"""API keys: `Authorization: Bearer <key>` names the tenant when keys are configured.

Keys are kept as sha256 digests, so looking one up compares digests, not the secrets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts import TaskRecord
from services.gateway.errors import ApiError, error_response


@dataclass(frozen=True)
class Caller:
    """Who is calling: a tenant, or None when the API is open (or a keyless socket)."""

    tenant: str | None


OPEN = Caller(tenant=None)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeys:
    def __init__(self, keys: Mapping[str, str]) -> None:
        self._tenants = {_digest(key): tenant for key, tenant in keys.items()}

    @property
    def enabled(self) -> bool:
        return bool(self._tenants)

    def tenant_for_key(self, key: str) -> str | None:
        return self._tenants.get(_digest(key))

    def caller(self, authorization: str | None) -> Caller:
        """The caller of an `/api/*` request; raises 401 when keys are on and this one is bad."""
        if not self.enabled:
            return OPEN
        tenant = self.tenant_for_key(bearer(authorization) or "")
        if tenant is None:
            raise ApiError(
                401,
                "unauthorized",
                "a valid API key is required: Authorization: Bearer <key>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Caller(tenant=tenant)

    def socket_caller(self, key: str | None) -> Caller | None:
        """The caller of a socket (/ws or Socket.IO) that gave `key` (None: gave none).

        Browsers cannot set headers on a socket, so a socket without a key is admitted and
        the task tokens alone count; with a key it is scoped to the key's tenant; a wrong key
        gives None, and the socket is refused.
        """
        if key is None or not self.enabled:
            return OPEN
        tenant = self.tenant_for_key(key)
        return Caller(tenant) if tenant is not None else None


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def may_see(caller: Caller, record: TaskRecord) -> bool:
    """A tenant only ever sees its own tasks; an open caller relies on the task token."""
    return caller.tenant is None or caller.tenant == record.tenant


class ApiKeyMiddleware:
    """Checks the API key of every `/api/*` request but health before anything reads its body.

    FastAPI parses a body (a whole multipart upload) before it runs a route's dependencies, so a
    dependency alone would let anyone without a key make the gateway read 50 MB; this answers
    401 from the headers. Paths no route serves under /api/ are refused the same way.
    """

    def __init__(self, app: ASGIApp, keys: ApiKeys) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.keys.enabled and _needs_key(scope["path"]):
            try:
                self.keys.caller(Headers(scope=scope).get("authorization"))
            except ApiError as refused:
                response = error_response(
                    refused.status, refused.code, refused.message, refused.headers
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _needs_key(path: str) -> bool:
    return path.startswith("/api/") and path.rstrip("/") != "/api/health"
