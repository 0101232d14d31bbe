"""A nesting-depth limit for every JSON the gateway reads, checked before anything parses it.

Python's `json` and pydantic recurse once per level: a body or frame nested a few hundred deep
makes serialising fail (a 500) and a thousand deep makes parsing raise `RecursionError`, which
kills a socket's reader. `JsonDepth` counts brackets as the bytes arrive (strings and escapes
understood), so the limit costs one pass and no parse; `JsonDepthMiddleware` applies it to every
HTTP request with a JSON body, `within_depth` to each WebSocket frame and Socket.IO packet.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.errors import error_response

DEFAULT_MAX_DEPTH = 32
TOO_DEEP = "json_too_deep"
# Only brackets, quotes and backslashes change the depth or the string state.
_STRUCTURAL = re.compile(rb'[\[\]{}"\\]')
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


def too_deep_message(limit: int) -> str:
    return f"JSON may be nested at most {limit} levels deep"


class JsonDepth:
    """Fed a JSON text in pieces, tells whether its nesting ever went past `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.exceeded = False
        self._depth = 0
        self._in_string = False
        self._escaped_at = -1  # offset in the next piece of a character a backslash escapes

    def feed(self, piece: bytes) -> bool:
        """False once the nesting has gone past the limit."""
        if not self.exceeded:
            for match in _STRUCTURAL.finditer(piece):
                at = match.start()
                if at != self._escaped_at and not self._step(piece[at], at):
                    self.exceeded = True
                    break
            self._escaped_at -= len(piece)
        return not self.exceeded

    def _step(self, char: int, at: int) -> bool:
        if self._in_string:
            if char == _QUOTE:
                self._in_string = False
            elif char == _BACKSLASH:
                self._escaped_at = at + 1
        elif char == _QUOTE:
            self._in_string = True
        elif char in _OPEN:
            self._depth += 1
        elif char in _CLOSE:
            self._depth -= 1
        return self._depth <= self.limit


def within_depth(text: str | bytes, limit: int) -> bool:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return JsonDepth(limit).feed(data)


def is_json(content_type: str) -> bool:
    """What FastAPI may parse as JSON: a JSON media type, or no content type at all (FastAPI
    parses such a body as JSON unless its content-type check is strict)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return not media or media == "application/json" or media.endswith("+json")


class JsonDepthMiddleware:
    """Refuses an HTTP JSON body nested past the limit with `422 json_too_deep`.

    The body is scanned as the app reads it, so nothing more is held in memory; when a piece
    goes too deep the app is handed the end of the body instead, and whatever it answers to the
    truncated JSON is replaced by the coded refusal.
    """

    def __init__(self, app: ASGIApp, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_json(Headers(scope=scope).get("content-type", "")):
            await self.app(scope, receive, send)
            return
        depth = JsonDepth(self.max_depth)
        started = False
        refused = False

        async def scanned_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not depth.feed(message.get("body", b"")):
                return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def refusing_send(message: Message) -> None:
            nonlocal started, refused
            if depth.exceeded and not started:
                if not refused:
                    refused = True
                    response = error_response(422, TOO_DEEP, too_deep_message(self.max_depth))
                    await response(scope, receive, send)
                return
            started = True
            await send(message)

        await self.app(scope, scanned_receive, refusing_send)


class DepthLimitedJson:
    """A `json` module for python-socketio: a packet nested too deep decodes to `[TOO_DEEP]`.

    Socket.IO decodes each packet before any handler sees it, and an exception there ends the
    connection; the marker instead reaches the event handler as an event of its own, which
    answers with an `error` event and keeps the socket open.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def dumps(self, value: Any, **kwargs: Any) -> str:
        return json.dumps(value, **kwargs)

    def loads(self, text: str | bytes, **kwargs: Any) -> Any:
        if not within_depth(text, self.limit):
            return [TOO_DEEP]
        return json.loads(text, **kwargs)
