"""Every error the gateway answers is `{"error": {"code", "message"}}` with a 4xx/5xx status.

FastAPI's own answers (422 validation, 404 unknown route, 405, 413 body limit) are rewritten
into that shape; anything unexpected becomes a 500 without a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import nats.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.errors import validation_message

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    409: "conflict",
    500: "internal_error",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class ApiError(Exception):
    """A failure the client should see as is."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers) if headers else None
        # More fields of the error object, e.g. the findings that refused an approval.
        self.details = dict(details) if details else None


def try_again(code: str, message: str, after_seconds: int) -> ApiError:
    """`503` with `Retry-After`: busy or a dependency away, for a moment; nothing is wrong with
    the request."""
    return ApiError(503, code, message, headers={"Retry-After": str(after_seconds)})


def error_body(
    code: str, message: str, details: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    return {"error": {"code": code, "message": message, **(details or {})}}


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def code_for(status: int) -> str:
    return _CODES.get(status, f"http_{status}")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers, exc.details)


def _code_for_request(status: int, request_content_type: str) -> str:
    if status == 413 and request_content_type.startswith("multipart/"):
        # The body limit of an upload route: what was too large is a file.
        return "file_too_large"
    return code_for(status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else _phrase(status)
    code = _code_for_request(status, request.headers.get("content-type", ""))
    return error_response(status, code, message, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "validation_error", describe_validation(exc.errors()))


def describe_validation(errors: object) -> str:
    """One line per problem, without echoing the input (it may be a whole file)."""
    return validation_message(errors)


async def _nats_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("NATS unavailable for %s %s: %r", request.method, request.url.path, exc)
    return error_response(
        503,
        "service_unavailable",
        "the message broker is unavailable; try again shortly",
        headers={"Retry-After": "2"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises after this response, so the server logs the traceback once.
    log.error("unhandled error in %s %s: %r", request.method, request.url.path, exc)
    return error_response(500, "internal_error", "internal server error")


class JsonErrorsMiddleware:
    """Rewrites any non-JSON error response into the JSON shape.

    Starlette's body limit answers a too large `Content-Length` with its own plain-text 413,
    past every exception handler; this keeps the promise of JSON errors for that and any other
    such response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body = bytearray()

        async def send_json_errors(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = Headers(raw=message.get("headers", []))
                is_json = headers.get("content-type", "").startswith("application/json")
                if message["status"] < 400 or is_json:
                    await send(message)
                else:
                    held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._rewrite(scope, held, bytes(body), send)

        await self.app(scope, receive, send_json_errors)

    @staticmethod
    async def _rewrite(scope: Scope, start: Message, body: bytes, send: Send) -> None:
        status = start["status"]
        text = body.decode("utf-8", "replace").strip()
        message = text if text and len(text) <= 200 and "<" not in text else _phrase(status)
        request_type = Headers(scope=scope).get("content-type", "")
        code = _code_for_request(status, request_type)
        response = error_response(status, code, message)
        kept = [
            (name, value)
            for name, value in start.get("headers", [])
            if name.lower() not in (b"content-type", b"content-length")
        ]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*kept, *response.raw_headers],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(nats.errors.Error, _nats_error)
    # Starlette runs the `Exception` handler outermost, for whatever escaped everything else.
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(JsonErrorsMiddleware)
