"""The extractor's handler wiring with its progress kept in memory (`Worker.progress_store`) on a
nats-server of the test's own: the command is read, the pipeline runs, and a `ValidateInvoice`
comes out on the work stream. (FastStream's in-memory broker cannot stand in since work
messages are pulled by the runtime's own consumer; see services/worker/consumer.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import nats
from nats.js.errors import NotFoundError

from contracts import ExtractInvoice, ValidateInvoice
from contracts.names import VALIDATE_SUBJECT, WORK_STREAM
from services.extractor.app import build_worker
from services.extractor.settings import ExtractorSettings
from services.messaging.envelopes import command_envelope
from testkit.documents import image_bytes
from tests.fakes.asgi import Receive, Scope, Send, respond, serving
from tests.fakes.openai_server import running_fake_openai
from tests.support.progress import MemoryProgressStore

PNG = image_bytes()


async def serve_png(scope: Scope, receive: Receive, send: Send) -> None:
    await respond(send, 200, PNG, content_type="image/png")


async def handed_over(nats_url: str) -> list[ValidateInvoice]:
    client = await nats.connect(nats_url)
    try:

        async def poll() -> list[ValidateInvoice]:
            while True:
                with contextlib.suppress(NotFoundError):
                    raw = await client.jetstream().get_last_msg(WORK_STREAM, VALIDATE_SUBJECT)
                    assert raw.data is not None
                    return [ValidateInvoice.model_validate_json(raw.data)]
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(poll(), 20)
    finally:
        await client.close()


async def test_extract_command_comes_out_as_a_validate_command(private_nats_url: str) -> None:
    async with serving(serve_png) as port, running_fake_openai() as fake:
        worker = build_worker(
            ExtractorSettings(
                nats_url=private_nats_url,
                openai_api_key="test-key",
                openai_base_url=fake.base_url,
                fetch_allowed_hosts=("127.0.0.1",),
            )
        )
        logs = worker.progress_store = MemoryProgressStore()
        cmd = ExtractInvoice(
            task_id=f"task_{uuid.uuid4().hex}",
            filename="in-memory.png",
            blob_url=f"http://127.0.0.1:{port}/in-memory.png",
        )
        await worker.start()
        try:
            await worker.publish(command_envelope(cmd))
            [sent] = await handed_over(private_nats_url)
        finally:
            await worker.stop()

    assert sent.task_id == cmd.task_id and sent.extraction.provider == "openai"
    assert logs.seen(cmd.task_id)[-1] == ("stage_complete", "llm_extraction", 80)
    assert fake.app.requests == 1
