"""One task through the four services in one process, with an in-memory span exporter; prints
the spans as JSON lines. Run by test_tracing.py in a process of its own, since a process can
set its tracer provider once.

    python -m tests.telemetry.trace_probe NATS_URL DATABASE_URL
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.extractor.app import build_worker as build_extractor
from services.extractor.settings import ExtractorSettings
from services.gateway.app import create_app
from services.persister.app import build_worker as build_persister
from services.persister.settings import PersisterSettings
from services.validator.app import build_worker as build_validator
from services.validator.settings import ValidatorSettings
from testkit.documents import image_bytes
from tests.fakes.openai_server import running_fake_openai
from tests.gateway.conftest import make_settings

# The caller's trace: the request continues it.
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def one_task(nats_url: str, database_url: str) -> str:
    async with running_fake_openai() as fake:
        workers = [
            build_extractor(
                ExtractorSettings(
                    nats_url=nats_url, openai_api_key="k", openai_base_url=fake.base_url
                )
            ),
            build_validator(ValidatorSettings(nats_url=nats_url)),
            build_persister(PersisterSettings(nats_url=nats_url, database_url=database_url)),
        ]
        for worker in workers:
            await worker.start()
        app = create_app(make_settings(nats_url, public_url="http://gateway.test"))
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://gateway.test"
                ) as http:
                    accepted = await http.post(
                        "/api/invoices",
                        files={"file": ("a.png", image_bytes(), "image/png")},
                        headers={"traceparent": TRACEPARENT},
                    )
                    task_id = str(accepted.json()["tasks"][0]["task_id"])
                    status = "pending"
                    while status not in ("completed", "error"):
                        await asyncio.sleep(0.05)
                        answer = await http.get(f"/api/invoices/status/{task_id}")
                        status = answer.json()["status"]
                    return status
        finally:
            for worker in workers:
                await worker.stop()


def main() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    status = asyncio.run(asyncio.wait_for(one_task(sys.argv[1], sys.argv[2]), 60))
    print(json.dumps({"status": status}))
    for span in exporter.get_finished_spans():
        context = span.get_span_context()
        assert context is not None
        print(
            json.dumps(
                {
                    "name": span.name,
                    "trace_id": format(context.trace_id, "032x"),
                    "parent": format(span.parent.span_id, "016x") if span.parent else None,
                }
            )
        )


if __name__ == "__main__":
    main()
