"""The persister process wiring against real NATS and PostgreSQL: migrate at start-up, save once,
complete once, whatever is redelivered."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import nats
import nats.aio.client
import pytest
from nats.js import JetStreamContext
from pydantic import BaseModel

from contracts import PersistInvoice, Stage, TaskDeadLettered, TaskUpdated, UpdateType
from contracts.names import (
    DEAD_LETTER_STREAM,
    GET_INVOICE_SUBJECT,
    LIST_INVOICES_SUBJECT,
    PERSIST_CONSUMER,
    PERSIST_SUBJECT,
    REVIEW_INVOICE_SUBJECT,
    WORK_STREAM,
    dead_letter_subject,
)
from contracts.store import GetInvoice, ListInvoices, ReviewInvoice, StoreReply
from services.messaging.progress_stream import read_history
from services.persister.app import PersisterWorker, build_worker
from services.persister.settings import PersisterSettings
from services.validator.app import build_worker as build_validator
from services.validator.settings import ValidatorSettings
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


# --- the store on request -----------------------------------------------------------------


@pytest.fixture
async def requester(private_nats_url: str) -> AsyncIterator[nats.aio.client.Client]:
    client = await nats.connect(private_nats_url)
    try:
        yield client
    finally:
        await client.drain()


@pytest.fixture
async def validator(private_nats_url: str) -> AsyncIterator[None]:
    worker = build_validator(ValidatorSettings(nats_url=private_nats_url))
    await worker.start()
    try:
        yield
    finally:
        await worker.stop()


async def ask(client: nats.aio.client.Client, subject: str, request: BaseModel) -> StoreReply:
    reply = await client.request(subject, request.model_dump_json().encode(), timeout=10)
    return StoreReply.model_validate_json(reply.data)


async def test_a_second_copy_completes_as_a_duplicate_of_the_first(
    persister: PersisterWorker, private_js: JetStreamContext
) -> None:
    first, second = persist_command(), persist_command()

    await publish(private_js, first)
    original = (await updates_until_terminal(private_js, first.task_id))[-1].result
    await publish(private_js, second)
    updates = await updates_until_terminal(private_js, second.task_id)

    result = updates[-1].result
    assert original is not None and result is not None
    assert result.saved is True and result.duplicate_of == original.invoice_id
    assert result.invoice_id != original.invoice_id
    assert [i.code for i in result.validation.issues][-1] == "duplicate_invoice"
    assert f"duplicate of {original.invoice_id}" in updates[1].message


async def test_saved_invoices_are_listed_and_read_on_request(
    persister: PersisterWorker,
    private_js: JetStreamContext,
    requester: nats.aio.client.Client,
) -> None:
    command = persist_command()
    await publish(private_js, command)
    result = (await updates_until_terminal(private_js, command.task_id))[-1].result
    assert result is not None and result.invoice_id is not None

    page = await ask(requester, LIST_INVOICES_SUBJECT, ListInvoices(tenant="tenant-a"))
    assert page.data is not None
    assert result.invoice_id in [item["invoice_id"] for item in page.data["items"]]
    one = await ask(
        requester, GET_INVOICE_SUBJECT, GetInvoice(tenant="tenant-a", invoice_id=result.invoice_id)
    )
    assert one.data is not None and len(one.data["invoice"]["line_items"]) == 2
    other = await ask(
        requester, GET_INVOICE_SUBJECT, GetInvoice(tenant="tenant-b", invoice_id=result.invoice_id)
    )
    assert other.error is not None and other.error.code == "invoice_not_found"
    bad = await ask(requester, LIST_INVOICES_SUBJECT, ListInvoices(cursor="nope"))
    assert bad.error is not None and bad.error.code == "invalid_cursor"


async def test_a_review_is_revalidated_by_the_running_validator(
    persister: PersisterWorker,
    validator: None,
    private_js: JetStreamContext,
    requester: nats.aio.client.Client,
) -> None:
    command = persist_command(total="187.50")  # 150.00 + 28.50 is 178.50
    await publish(private_js, command)
    result = (await updates_until_terminal(private_js, command.task_id))[-1].result
    assert result is not None and result.invoice_id is not None
    review = ReviewInvoice(
        tenant="tenant-a", invoice_id=result.invoice_id, reviewer="rita", decision="approve"
    )

    refused = await ask(requester, REVIEW_INVOICE_SUBJECT, review)
    assert refused.error is not None and refused.error.code == "invoice_invalid"
    assert "total_mismatch" in [i.code for i in refused.error.issues or []]

    fixed = review.model_copy(update={"corrections": {"total": "178.50"}})
    approved = await ask(requester, REVIEW_INVOICE_SUBJECT, fixed)
    assert approved.data is not None, approved.error
    assert approved.data["status"] == "approved"
    assert approved.data["reviews"][0]["changes"] == [
        {"field": "total", "old": "187.50", "new": "178.50"}
    ]


async def test_a_review_without_a_validator_running_is_refused_as_unavailable(
    persister: PersisterWorker, private_js: JetStreamContext, requester: nats.aio.client.Client
) -> None:
    command = persist_command()
    await publish(private_js, command)
    result = (await updates_until_terminal(private_js, command.task_id))[-1].result
    assert result is not None and result.invoice_id is not None

    reply = await ask(
        requester,
        REVIEW_INVOICE_SUBJECT,
        ReviewInvoice(
            tenant="tenant-a", invoice_id=result.invoice_id, reviewer="rita", decision="reject"
        ),
    )

    assert reply.error is not None
    assert reply.error.code == "validator_unavailable"
