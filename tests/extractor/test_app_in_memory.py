"""The extractor's handler wiring with FastStream's in-memory broker (no nats-server): the
command is parsed, the pipeline runs, and a `ValidateInvoice` comes out. Acks, redelivery and
the progress stream need the real server (test_app.py)."""

from __future__ import annotations

import uuid

from faststream.nats import TestNatsBroker

from contracts import ExtractInvoice, ValidateInvoice
from contracts.names import VALIDATE_SUBJECT
from services.extractor.app import build_worker
from services.extractor.settings import ExtractorSettings
from services.messaging.envelopes import command_envelope
from services.worker.worker import WORK_JSTREAM
from testkit.documents import image_bytes
from tests.fakes.asgi import Receive, Scope, Send, respond, serving
from tests.fakes.openai_server import running_fake_openai
from tests.support.progress import MemoryProgressStore

PNG = image_bytes()


async def serve_png(scope: Scope, receive: Receive, send: Send) -> None:
    await respond(send, 200, PNG, content_type="image/png")


async def test_extract_command_comes_out_as_a_validate_command() -> None:
    async with serving(serve_png) as port, running_fake_openai() as fake:
        worker = build_worker(
            ExtractorSettings(
                openai_api_key="test-key",
                openai_base_url=fake.base_url,
                fetch_allowed_hosts=("127.0.0.1",),
            )
        )
        logs = worker.progress_store = MemoryProgressStore()
        handed_over: list[ValidateInvoice] = []

        # Declared on the work stream, as the validator's is: the in-memory broker matches on it.

        @worker.broker.subscriber(VALIDATE_SUBJECT, stream=WORK_JSTREAM)
        async def validator(command: ValidateInvoice) -> None:
            handed_over.append(command)

        cmd = ExtractInvoice(
            task_id=f"task_{uuid.uuid4().hex}",
            filename="in-memory.png",
            blob_url=f"http://127.0.0.1:{port}/in-memory.png",
        )
        try:
            async with TestNatsBroker(worker.broker):
                await worker.publish(command_envelope(cmd))
        finally:
            await worker.stop()

    [sent] = handed_over
    assert sent.task_id == cmd.task_id and sent.extraction.provider == "openai"
    assert logs.seen(cmd.task_id)[-1] == ("stage_complete", "llm_extraction", 80)
    assert fake.app.requests == 1
