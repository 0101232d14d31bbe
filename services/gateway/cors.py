"""CORS with the gateway's error shape: a refused preflight is JSON with a code, not text.

Starlette's middleware answers a refused preflight with `400 text/plain "Disallowed CORS …"`,
from outside every other middleware. Here a foreign origin gets `403 origin_not_allowed` and any
other refusal (a method or header not allowed) `400 cors_not_allowed`, with the same headers.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from services.gateway.errors import error_response

# What Starlette names in a refusal, in words.
_REFUSED = {
    "method": "this method",
    "headers": "these request headers",
    "private-network": "private network access",
}


class JsonCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-type", "content-length")
        }
        if not self.is_allowed_origin(origin=request_headers["origin"]):
            return error_response(
                403, "origin_not_allowed", "this origin may not call the gateway", headers
            )
        named = bytes(response.body).decode().removeprefix("Disallowed CORS ").split(", ")
        what = " and ".join(_REFUSED.get(part, "this request") for part in named)
        return error_response(
            400, "cors_not_allowed", f"{what} may not be used cross-origin", headers
        )
