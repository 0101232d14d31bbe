"""Accepting tasks: record in the tasks bucket, `ExtractInvoice` on the work stream."""

from __future__ import annotations

import re

import pytest
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from contracts import ExtractInvoice, ProcessingOptions, TaskRecord
from contracts.names import EXTRACT_SUBJECT, WORK_STREAM
from services.gateway.tasks import TaskService, new_task_id, token_matches, token_sha256
from services.messaging.jetstream import declare_pipeline_streams, tasks_bucket
from services.messaging.progress_stream import progress_log
from tests.gateway.conftest import append_steps


@pytest.fixture
async def kv(js: JetStreamContext) -> KeyValue:
    await declare_pipeline_streams(js, 24)
    return await tasks_bucket(js, 24)


@pytest.fixture
def service(js: JetStreamContext, kv: KeyValue) -> TaskService:
    return TaskService(js, kv)


def test_task_ids_look_like_the_spec_says() -> None:
    assert re.fullmatch(r"task_[0-9a-f]{32}", new_task_id())
    assert new_task_id() != new_task_id()


async def test_accept_stores_the_record_with_the_token_digest_only(
    service: TaskService, kv: KeyValue
) -> None:
    options = ProcessingOptions(auto_save=False)

    task = await service.accept(
        tenant="tenant-a", filename="a.pdf", blob_url="http://x.test/a.pdf", options=options
    )

    entry = await kv.get(task.task_id)
    assert entry.value is not None
    record = TaskRecord.model_validate_json(entry.value)
    assert (record.tenant, record.filename, record.options) == ("tenant-a", "a.pdf", options)
    assert record.token_sha256 == token_sha256(task.token)
    assert task.token.encode() not in entry.value
    assert token_matches(task.token, record)
    assert not token_matches(task.token + "x", record)


async def test_accept_publishes_extract_with_its_msg_id(
    service: TaskService, js: JetStreamContext
) -> None:
    task = await service.accept(
        tenant=None, filename="a.pdf", blob_url="http://x.test/a.pdf", options=ProcessingOptions()
    )

    stored = await js.get_last_msg(WORK_STREAM, EXTRACT_SUBJECT)
    assert stored.headers is not None
    assert stored.headers["Nats-Msg-Id"] == f"{task.task_id}:{EXTRACT_SUBJECT}"
    assert stored.data is not None
    command = ExtractInvoice.model_validate_json(stored.data)
    assert (command.task_id, command.blob_url) == (task.task_id, "http://x.test/a.pdf")


async def test_records_are_found_from_another_replica(
    service: TaskService, js: JetStreamContext, kv: KeyValue
) -> None:
    task = await service.accept(
        tenant=None, filename="a.pdf", blob_url="http://x.test/a.pdf", options=ProcessingOptions()
    )
    other = TaskService(js, kv)  # nothing cached

    record = await other.record(task.task_id)

    assert record is not None and record.filename == "a.pdf"


async def test_unknown_and_malformed_ids_have_no_record(service: TaskService) -> None:
    assert await service.record(new_task_id()) is None
    assert await service.record("task_../../x") is None
    assert await service.record("") is None


async def test_last_update_reads_the_progress_stream(
    service: TaskService, js: JetStreamContext
) -> None:
    task_id = new_task_id()
    assert await service.last_update(task_id) is None

    await append_steps(progress_log(js, task_id), 2)

    last = await service.last_update(task_id)
    assert last is not None and last.seq == 2
