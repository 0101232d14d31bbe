"""What the webhook task-events consumer costs per task, in the persister's process.

Every task's progress updates (9 per task, the last `complete` with a result) are delivered once
more, to `webhook_task_events`. This publishes them for `--tasks` tasks while that consumer is
stopped, then starts the persister's `WebhookNotifier` (PostgreSQL replaced by a stand-in that
holds the registrations) and measures the process's CPU time and nats-server's until the
consumer is drained:

  none        no tenant has a webhook: every update is acknowledged after a byte check, every
              ending after a cached lookup (what each deployment without webhooks pays)
  elsewhere   another tenant has webhooks for task events: each ending also reads its task's
              record from the tasks bucket to learn its tenant

    python -m bench.webhook_events                # 2,000 tasks
    python -m bench.webhook_events --tasks 200
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
import psutil
from nats.js import JetStreamContext

from contracts import (
    Invoice,
    ProcessingOptions,
    Stage,
    TaskRecord,
    TaskResult,
    TaskUpdated,
    UpdateType,
    Usage,
    ValidationReport,
)
from contracts.names import PROGRESS_STREAM, WEBHOOK_TASK_EVENTS_CONSUMER, progress_subject
from deploy.embedded import EmbeddedNats, free_port
from services.messaging.jetstream import declare_pipeline_streams, tasks_bucket
from services.persister.settings import PersisterSettings
from services.persister.webhook_store import Registration
from services.persister.webhooks import WebhookNotifier
from services.process import run
from services.telemetry.health import Health

UPDATES = (
    (UpdateType.STAGE_START, Stage.FETCH, 5),
    (UpdateType.STAGE_COMPLETE, Stage.FETCH, 10),
    (UpdateType.STAGE_START, Stage.LLM_EXTRACTION, 10),
    (UpdateType.STAGE_COMPLETE, Stage.LLM_EXTRACTION, 80),
    (UpdateType.STAGE_START, Stage.VALIDATION, 80),
    (UpdateType.STAGE_COMPLETE, Stage.VALIDATION, 90),
    (UpdateType.STAGE_START, Stage.SAVE, 90),
    (UpdateType.STAGE_COMPLETE, Stage.SAVE, 95),
    (UpdateType.COMPLETE, Stage.COMPLETE, 100),
)
RESULT = TaskResult(
    invoice=Invoice.model_validate({"invoice_number": "INV-1", "total": "193.00"}),
    confidence={"total": 0.9},
    validation=ValidationReport(status="valid", issues=[]),
    saved=True,
    invoice_id="inv_" + "0" * 32,
    duplicate_of=None,
    provider="openai",
    usage=Usage(input_tokens=900, output_tokens=200),
)


class StandInStore:
    """The registrations a scenario has; deliveries are never recorded (nobody wants them)."""

    def __init__(self, registrations: list[Registration]) -> None:
        self._registrations = registrations

    async def registrations(self) -> list[Registration]:
        return list(self._registrations)

    async def record_delivery(self, delivery: Any) -> bool:
        return False


async def publish(js: JetStreamContext, tasks: int) -> None:
    kv = await tasks_bucket(js, 24)
    for n in range(tasks):
        task_id = f"task_{n:032x}"
        record = TaskRecord(
            task_id=task_id,
            tenant="bench",
            filename="a.pdf",
            token_sha256="0" * 64,
            blob_url="http://x.test/a.pdf",
            options=ProcessingOptions(),
        )
        await kv.put(task_id, record.model_dump_json().encode())
        acks = []
        for seq, (type_, stage, progress) in enumerate(UPDATES, start=1):
            update = TaskUpdated(
                task_id=task_id,
                type=type_,
                seq=seq,
                progress=progress,
                stage=stage,
                message="bench",
                timestamp=time.time(),
                result=RESULT if type_ is UpdateType.COMPLETE else None,
            )
            acks.append(js.publish(progress_subject(task_id), update.model_dump_json().encode()))
        await asyncio.gather(*acks)


async def drained(js: JetStreamContext) -> None:
    while True:
        info = await js.consumer_info(PROGRESS_STREAM, WEBHOOK_TASK_EVENTS_CONSUMER)
        if not (info.num_pending or 0) and not (info.num_ack_pending or 0):
            return
        await asyncio.sleep(0.02)


async def scenario(name: str, registrations: list[Registration], tasks: int, base: Path) -> None:
    server = EmbeddedNats(base / name, free_port()).start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await declare_pipeline_streams(js, 24)
        settings = PersisterSettings(database_url="postgresql://unused", nats_url=server.url)
        store: Any = StandInStore(registrations)

        def notifier() -> WebhookNotifier:
            return WebhookNotifier(settings, nc, js, store, Health(("nats",)))

        first = notifier()
        await first.start()  # creates the durable consumer, which keeps its place
        await first.stop()
        await publish(js, tasks)
        nats_proc = psutil.Process(server.pids[0])
        nats_before = sum(nats_proc.cpu_times()[:2])
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        second = notifier()
        await second.start()
        await drained(js)
        cpu = time.process_time() - cpu_before
        wall = time.perf_counter() - wall_before
        nats_cpu = sum(nats_proc.cpu_times()[:2]) - nats_before
        await second.stop()
        await nc.close()
    finally:
        server.stop()
    print(
        f"{name:10} {tasks} tasks ({tasks * len(UPDATES)} updates) in {wall:.2f} s: "
        f"persister {cpu / tasks * 1000:.3f} ms CPU/task, "
        f"nats-server {nats_cpu / tasks * 1000:.3f} ms CPU/task"
    )


async def main(tasks: int) -> None:
    elsewhere = [Registration("wh_other", "other", frozenset({"task.completed", "task.failed"}))]
    with tempfile.TemporaryDirectory() as tmp:
        await scenario("none", [], tasks, Path(tmp))
        await scenario("elsewhere", elsewhere, tasks, Path(tmp))


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    run(main(parser.parse_args().tasks))


if __name__ == "__main__":
    cli()
