"""A fast fake of an OpenAI-compatible Chat Completions server, for tests and the benchmark.

`POST /v1/chat/completions` answers with a canned invoice shaped to the requested JSON schema;
`GET /v1/models` lists the scripted models. Every call waits `latency` seconds first. The
request's `model` picks a behaviour:

| model               | answer                                                            |
|---------------------|-------------------------------------------------------------------|
| `fake-refuse`       | 200, `message.refusal` set, no content                            |
| `fake-truncate`     | 200, `finish_reason: "length"`, half the JSON                     |
| `fake-invalid`      | 200, content that is not JSON                                     |
| `fake-500`          | HTTP 500 every time                                               |
| `fake-401`          | HTTP 401 (bad API key)                                            |
| `fake-429-then-ok`  | HTTP 429 (Retry-After) twice per distinct request, then success   |
| `fake-429-wait-1s`  | HTTP 429 with `Retry-After: 1` once per distinct request, then ok  |
| `fake-hang`         | never answers; holds the request until the client goes away       |
| `fake-empty`        | success, every invoice field null                                 |
| `fake-low-confidence` | success, confidence 0.3 for every field                         |
| `fake-total-zero`   | success, but total "0.00" at confidence 0.99: a model that obeyed  |
|                     | a prompt injection in the document                                |
| anything else       | success: ACME GmbH, INV-1001, 2024-03-15, EUR, total 193.00       |

In-process: `async with running_fake_openai(latency=0.1) as fake: fake.base_url`.
As a process: `python -m tests.fakes.openai_server --port 8100 --latency 0.5`.
Plain ASGI on uvicorn with no access log: it has to sustain hundreds of requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from contracts import CONFIDENCE_FIELDS
from tests.fakes.asgi import Receive, Scope, Send, read_body, respond, server_config, serving

SCRIPTED_MODELS = (
    "fake-refuse",
    "fake-truncate",
    "fake-invalid",
    "fake-500",
    "fake-401",
    "fake-429-then-ok",
    "fake-429-wait-1s",
    "fake-hang",
    "fake-empty",
    "fake-low-confidence",
    "fake-total-zero",
)
USAGE = {"prompt_tokens": 1200, "completion_tokens": 350, "total_tokens": 1550}
RATE_LIMITED_TIMES = 2
# Model -> how many times each distinct request is refused with 429, and the headers saying
# when to retry.
_RATE_LIMITS: dict[str, tuple[int, dict[str, str]]] = {
    "fake-429-then-ok": (RATE_LIMITED_TIMES, {"retry-after": "1", "retry-after-ms": "20"}),
    # Longer than the SDK's own first backoff (at most 0.5 s): waiting this long proves the
    # header was honoured.
    "fake-429-wait-1s": (1, {"retry-after": "1"}),
}

# 180.37 + 7 % VAT (12.63) = 193.00; the line items add up to the subtotal.
CANNED_INVOICE: dict[str, Any] = {
    "document_type": "invoice",
    "invoice_number": "INV-1001",
    "invoice_date": "2024-03-15",
    "due_date": "2024-04-14",
    "currency": "EUR",
    "vendor": {
        "name": "ACME GmbH",
        "address": "Hauptstraße 1, 10115 Berlin, Germany",
        "tax_id": "DE123456789",
        "email": "billing@acme.example",
        "phone": "+49 30 1234567",
    },
    "customer": {
        "name": "Globex Corporation",
        "address": "Am Markt 5, 80331 München, Germany",
        "tax_id": None,
        "email": None,
        "phone": None,
    },
    "purchase_order": "PO-77",
    "payment_terms": "Net 30",
    "subtotal": "180.37",
    "total_discount": None,
    "shipping": None,
    "total_tax": "12.63",
    "total": "193.00",
    "amount_paid": None,
    "amount_due": "193.00",
    "tax_details": [{"rate": "7", "base": "180.37", "amount": "12.63"}],
    "line_items": [
        {
            "description": "Widget A",
            "quantity": "2",
            "unit": "pcs",
            "unit_price": "60.00",
            "tax_rate": "7",
            "amount": "120.00",
            "product_code": "WA-1",
        },
        {
            "description": "Widget B",
            "quantity": "1",
            "unit": "pcs",
            "unit_price": "60.37",
            "tax_rate": "7",
            "amount": "60.37",
            "product_code": "WB-2",
        },
    ],
    "payment": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "reference": "INV-1001"},
}


def canned_answer(confidence: float = 0.95, *, empty: bool = False) -> dict[str, Any]:
    invoice = {} if empty else CANNED_INVOICE
    fields = () if empty else CONFIDENCE_FIELDS
    return {
        "invoice": copy.deepcopy(invoice),
        "confidence": [{"field": f, "confidence": confidence} for f in fields],
    }


def conform(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """`value` shaped to `schema`: every property present (missing ones null), nothing extra."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return conform(value, target, root)
    if "anyOf" in schema:
        if value is None:
            return None
        variants = [v for v in schema["anyOf"] if v.get("type") != "null"]
        return conform(value, variants[0], root) if variants else value
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        given = value if isinstance(value, dict) else {}
        return {
            key: conform(given.get(key), sub, root) for key, sub in schema["properties"].items()
        }
    if kind == "array":
        items = schema.get("items", {})
        return [conform(item, items, root) for item in value] if isinstance(value, list) else []
    return value


@dataclass
class FakeOpenAI:
    """The ASGI app. `requests` counts every chat request, `by_model` per model name."""

    latency: float = 0.0

    def __post_init__(self) -> None:
        self.requests = 0
        self.by_model: Counter[str] = Counter()
        self.last_request: dict[str, Any] | None = None
        # When each request arrived, per model; and how many were answered at once at most.
        self.times: defaultdict[str, list[float]] = defaultdict(list)
        self.in_flight = 0
        self.max_in_flight = 0
        # Set to an unset event, every call waits for it (after it is counted in `in_flight`).
        self.gate: asyncio.Event | None = None
        self._rate_limited: Counter[str] = Counter()
        self._answers: dict[tuple[str, str], bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off; nothing else is served
        path, method = scope["path"], scope["method"]
        if method == "GET" and path.rstrip("/") == "/v1/models":
            await _send_json(send, 200, _models())
            return
        if method != "POST" or path.rstrip("/") != "/v1/chat/completions":
            await _send_json(send, 404, _error("not found", "invalid_request_error"))
            return
        raw = await read_body(receive)
        try:
            body = json.loads(raw)
            model = str(body["model"])
        except (ValueError, KeyError, TypeError):
            await _send_json(send, 400, _error("body must be JSON with a model", "invalid_json"))
            return
        self.requests += 1
        self.by_model[model] += 1
        self.last_request = body
        self.times[model].append(time.monotonic())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if self.gate is not None:
                await self.gate.wait()
            await self._answer(model, body, raw, receive, send)
        finally:
            self.in_flight -= 1

    async def _answer(
        self, model: str, body: dict[str, Any], raw: bytes, receive: Receive, send: Send
    ) -> None:
        if model == "fake-hang":
            await _wait_for_disconnect(receive)
            return
        if model == "fake-500":
            await _send_json(
                send, 500, _error("the fake fails", "server_error"), {"retry-after-ms": "10"}
            )
            return
        if model == "fake-401":
            await _send_json(send, 401, _error("invalid api key", "invalid_api_key"))
            return
        retry_after = self._rate_limit(model, raw)
        if retry_after is not None:
            await _send_json(send, 429, _error("slow down", "rate_limit_exceeded"), retry_after)
            return
        await respond(send, 200, _completion(model, *self._message(model, body)))

    def _rate_limit(self, model: str, raw: bytes) -> dict[str, str] | None:
        """The Retry-After headers of a 429 if this request is still to be refused, counted."""
        limit = _RATE_LIMITS.get(model)
        if limit is None:
            return None
        times, headers = limit
        # SDK retries resend the very same body, so the body identifies "this request".
        digest = hashlib.sha256(raw).hexdigest()
        if self._rate_limited[digest] >= times:
            return None
        self._rate_limited[digest] += 1
        return headers

    def _message(self, model: str, body: dict[str, Any]) -> tuple[str | None, str | None, str]:
        """Content, refusal and finish reason: the canned answer, or how the model spoils it."""
        answer = self._content(model, body)
        if model == "fake-refuse":
            return None, "I'm sorry, I can't help with that document.", "stop"
        if model == "fake-truncate":
            return answer[: len(answer) // 2], None, "length"
        if model == "fake-invalid":
            return "Sure! Here is the invoice you asked for: total 193.00 EUR.", None, "stop"
        return answer, None, "stop"

    def _content(self, model: str, body: dict[str, Any]) -> str:
        schema = _requested_schema(body)
        key = (model, json.dumps(schema, sort_keys=True) if schema else "")
        cached = self._answers.get(key)
        if cached is None:
            answer = canned_answer(
                0.3 if model == "fake-low-confidence" else 0.95, empty=model == "fake-empty"
            )
            if model == "fake-total-zero":
                answer["invoice"]["total"] = "0.00"
                answer["confidence"] = [{"field": f, "confidence": 0.99} for f in CONFIDENCE_FIELDS]
            if schema is not None:
                answer = conform(answer, schema, schema)
            cached = self._answers[key] = json.dumps(answer).encode()
        return cached.decode()


def _requested_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    response_format = body.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return None
    schema = response_format.get("json_schema", {}).get("schema")
    return schema if isinstance(schema, dict) else None


def _completion(model: str, content: str | None, refusal: str | None, finish: str) -> bytes:
    return json.dumps(
        {
            "id": f"chatcmpl-fake-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "finish_reason": finish,
                    "logprobs": None,
                }
            ],
            "usage": USAGE,
        }
    ).encode()


def _models() -> dict[str, Any]:
    names = ("fake-model", *SCRIPTED_MODELS)
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "fake"} for n in names],
    }


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "param": None, "code": code}}


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_json(
    send: Send, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    await respond(send, status, json.dumps(payload).encode(), headers)


# --- running it -----------------------------------------------------------------------------


@dataclass
class RunningFake:
    app: FakeOpenAI
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@contextlib.asynccontextmanager
async def running_fake_openai(latency: float = 0.0) -> AsyncIterator[RunningFake]:
    """The fake on a free loopback port in this event loop; stopped on exit."""
    app = FakeOpenAI(latency=latency)
    async with serving(app) as port:
        yield RunningFake(app, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    config = server_config(FakeOpenAI(latency=args.latency), host=args.host, port=args.port)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
