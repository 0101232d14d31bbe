"""schemathesis against the gateway's own OpenAPI document: requests generated from it, valid
and invalid, sent over HTTP to the real app (real nats-server, PostgreSQL, persister and
validator behind it). None may get a 5xx, and every error must be the JSON error shape."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from tests.gateway.conftest import make_settings, served
from tests.gateway.store_stack import AS_A, KEYS, store_workers
from tests.persister.samples import save_sample

# Per operation and generation mode: 13 operations x 2 modes x 25 runs in about half a minute.
EXAMPLES = 25
Failure = tuple[str, int, str]


def fuzz(base_url: str, document: dict[str, Any]) -> tuple[int, list[Failure]]:
    """Every operation of `document`, positive and negative cases: (requests sent, failures)."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[Failure] = []
    sent = 0

    def check(case: Any) -> None:
        nonlocal sent
        response = case.call(base_url=base_url, headers=AS_A, timeout=10)
        sent += 1
        where = f"{case.method} {case.formatted_path}"
        if response.status_code >= 500:
            failures.append((where, response.status_code, response.text[:300]))
        elif response.status_code >= 400 and not _json_error(response.content):
            failures.append((where, response.status_code, "not the JSON error shape"))

    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document itself is not valid OpenAPI
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            run = settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )(given(case=strategy)(check))
            try:
                run()
            except Unsatisfiable:
                # Nothing to make invalid (no parameters, no body): only a negative mode may.
                if mode is GenerationMode.POSITIVE:
                    raise
    return sent, failures


def _json_error(content: bytes) -> bool:
    try:
        error = httpx.Response(200, content=content).json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(error.get("code"), str) and isinstance(error.get("message"), str)


async def test_no_generated_request_gets_a_server_error(
    private_nats_url: str, schema_dsn: str
) -> None:
    async with (
        store_workers(private_nats_url, schema_dsn) as persister,
        served(make_settings(private_nats_url, api_keys=KEYS)) as server,
    ):
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            assert (await http.get("/api/health")).status_code == 200  # the lifespan has run
        await save_sample(persister.repository, "tenant-a")
        document = server.app.openapi()

        sent, failures = await asyncio.to_thread(fuzz, server.base_url, document)

    assert sent >= len(document["paths"]) * 2
    assert failures == [], failures
