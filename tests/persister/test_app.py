"""The persister process wiring against real NATS and PostgreSQL: migrate at start-up, save once,
complete once, whatever is redelivered."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest
from nats.js import JetStreamContext

from contracts import PersistInvoice, Stage, TaskDeadLettered, TaskUpdated, UpdateType
from contracts.names import (
    DEAD_LETTER_STREAM,
    PERSIST_CONSUMER,
    PERSIST_SUBJECT,
    WORK_STREAM,
    dead_letter_subject,
)
from services.common.progress_log import read_history
from services.persister.app import PersisterWorker, build_worker
from services.persister.settings import PersisterSettings
from tests.persister.samples import persist_command
from tests.support.waiting import updates_until_terminal, wait_until


@pytest.fixture
async def private_js(private_nats_url: str) -> AsyncIterator[JetStreamContext]:
    client = await nats.connect(private_nats_url)
    try:
        yield client.jetstream()
    finally:
        await client.drain()


@pytest.fixture
async def persister(private_nats_url: str, schema_dsn: str) -> AsyncIterator[PersisterWorker]:
    settings = PersisterSettings(
        nats_url=private_nats_url,
        database_url=schema_dsn,
        ack_wait_seconds=5.0,
        max_deliver=3,
        retry_backoff_seconds=(0.1,),
        db_pool_max_size=4,
    )
    worker = build_worker(settings)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


async def publish(js: JetStreamContext, command: PersistInvoice) -> None:
    # A fresh Nats-Msg-Id each time, so a second publish is a redelivery, not a dropped duplicate.
    await js.publish(
        PERSIST_SUBJECT,
        command.model_dump_json().encode(),
        stream=WORK_STREAM,
        headers={"Nats-Msg-Id": f"{command.task_id}:{uuid.uuid4().hex}"},
    )


async def history(js: JetStreamContext, task_id: str) -> list[TaskUpdated]:
    return [update for _, update in await read_history(js, task_id)]


async def rows_for_task(dsn: str, task_id: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM invoices WHERE task_id = $1", task_id))
    finally:
        await conn.close()


async def persister_idle(js: JetStreamContext) -> bool:
    info = await js.consumer_info(WORK_STREAM, PERSIST_CONSUMER)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_start_up_migrates_the_database(persister: PersisterWorker, schema_dsn: str) -> None:
    conn = await asyncpg.connect(schema_dsn)
    try:
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") >= 1
    finally:
        await conn.close()


async def test_a_persist_command_saves_and_completes_the_task(
    persister: PersisterWorker, private_js: JetStreamContext
) -> None:
    command = persist_command()

    await publish(private_js, command)

    updates = await updates_until_terminal(private_js, command.task_id)
    assert [(u.seq, u.type, u.stage, u.progress) for u in updates] == [
        (1, UpdateType.STAGE_START, Stage.SAVE, 90),
        (2, UpdateType.STAGE_COMPLETE, Stage.SAVE, 95),
        (3, UpdateType.COMPLETE, Stage.COMPLETE, 100),
    ]
    result = updates[-1].result
    assert result is not None
    assert result.saved is True and result.duplicate_of is None
    assert result.invoice == command.extraction.invoice
    assert result.validation == command.validation
    assert result.provider == "openai" and result.usage.input_tokens == 1200
    stored = await persister.repository.get_invoice_by_task(command.task_id)
    assert stored is not None
    assert stored.columns["id"] == result.invoice_id
    assert stored.columns["file_sha256"] == command.sha256
    assert len(stored.line_items) == 2


async def test_a_redelivered_command_writes_nothing_and_completes_nothing_again(
    persister: PersisterWorker, private_js: JetStreamContext, schema_dsn: str
) -> None:
    command = persist_command()
    await publish(private_js, command)
    first = await updates_until_terminal(private_js, command.task_id)

    await publish(private_js, command)
    await wait_until(lambda: persister_idle(private_js))

    assert await history(private_js, command.task_id) == first
    assert [u.type for u in first].count(UpdateType.COMPLETE) == 1
    assert await rows_for_task(schema_dsn, command.task_id) == 1
    assert (await private_js.stream_info(WORK_STREAM)).state.messages == 0


async def test_a_redelivery_after_the_save_completes_with_the_saved_row(
    persister: PersisterWorker, private_js: JetStreamContext, schema_dsn: str
) -> None:
    # The first delivery saved the row and died before its `complete` update.
    command = persist_command()
    saved = await persister.repository.save_invoice(
        task_id=command.task_id,
        tenant=command.tenant,
        filename=command.filename,
        file_sha256=command.sha256,
        extraction=command.extraction,
        validation=command.validation,
    )

    await publish(private_js, command)

    updates = await updates_until_terminal(private_js, command.task_id)
    assert updates[1].message == "Already saved"
    assert updates[-1].result is not None
    assert updates[-1].result.invoice_id == saved.invoice_id
    assert await rows_for_task(schema_dsn, command.task_id) == 1


async def test_an_invoice_the_database_refuses_fails_the_task_at_once(
    persister: PersisterWorker, private_js: JetStreamContext
) -> None:
    command = persist_command(total="1000000000000000.00")

    await publish(private_js, command)

    updates = await updates_until_terminal(private_js, command.task_id)
    assert [u.type for u in updates] == [UpdateType.STAGE_START, UpdateType.ERROR]
    error = updates[-1].error
    assert error is not None and error.code == "invoice_not_storable"
    assert "cannot be stored" in error.message
    # The dead letter is published right after the `error` update.
    letters = await private_js.subscribe(
        dead_letter_subject(PERSIST_CONSUMER), stream=DEAD_LETTER_STREAM, ordered_consumer=True
    )
    letter = await letters.next_msg(timeout=10)
    await letters.unsubscribe()
    dead = TaskDeadLettered.model_validate_json(letter.data)
    assert dead.task_id == command.task_id and dead.deliveries == 1


async def test_stop_closes_the_pool(private_nats_url: str, schema_dsn: str) -> None:
    worker = build_worker(PersisterSettings(nats_url=private_nats_url, database_url=schema_dsn))
    await worker.start()
    await worker.stop()
    with pytest.raises(RuntimeError, match="not started"):
        _ = worker.repository
