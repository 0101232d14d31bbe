"""Every NATS subject, stream, consumer and bucket name the services agree on.

The work subjects and their consumers are declared with the steps they belong to, in
`contracts/pipeline.py`; they are repeated here under their old names for convenience.
"""

from __future__ import annotations

import re

from contracts.pipeline import EXTRACT, PERSIST, PIPELINE, VALIDATE

# Work: a work-queue stream, one durable pull consumer per step.
WORK_STREAM = "INVOICES_WORK"
WORK_SUBJECTS: tuple[str, ...] = tuple(step.subject for step in PIPELINE)
EXTRACT_SUBJECT = EXTRACT.subject
VALIDATE_SUBJECT = VALIDATE.subject
PERSIST_SUBJECT = PERSIST.subject
EXTRACT_CONSUMER = EXTRACT.consumer
VALIDATE_CONSUMER = VALIDATE.consumer
PERSIST_CONSUMER = PERSIST.consumer

# Progress: one subject per task in a limits stream kept >= 24 h; replay and status read it.
PROGRESS_STREAM = "INVOICES_PROGRESS"
PROGRESS_SUBJECT_PREFIX = "invoices.progress"
PROGRESS_WILDCARD = f"{PROGRESS_SUBJECT_PREFIX}.*"

# Dead letters: tasks that failed for good, with the command that failed.
DEAD_LETTER_STREAM = "INVOICES_DEAD_LETTER"
DEAD_LETTER_SUBJECT_PREFIX = "invoices.dead_letter"

# JetStream's own advisories when a work message ran out of deliveries (e.g. the worker was
# killed on its last attempt): captured in a stream so no such task is ever left hanging.
ADVISORY_STREAM = "INVOICES_ADVISORIES"
MAX_DELIVERIES_ADVISORY_PREFIX = f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{WORK_STREAM}"

# Key-value and object stores.
TASKS_BUCKET = "invoiceflow_tasks"
BLOBS_BUCKET = "invoiceflow_blobs"
# Extractions by (file sha256, provider, model): the same file is not extracted twice.
EXTRACTIONS_BUCKET = "invoiceflow_extractions"

_TASK_ID = re.compile(r"^task_[0-9a-f]{32}$")


def is_task_id(value: str) -> bool:
    return bool(_TASK_ID.match(value))


def progress_subject(task_id: str) -> str:
    return f"{PROGRESS_SUBJECT_PREFIX}.{task_id}"


def dead_letter_subject(consumer: str) -> str:
    return f"{DEAD_LETTER_SUBJECT_PREFIX}.{consumer}"


def max_deliveries_advisory_subject(consumer: str) -> str:
    return f"{MAX_DELIVERIES_ADVISORY_PREFIX}.{consumer}"


def exhausted_consumer(work_consumer: str) -> str:
    """The durable that reads one work consumer's max-deliveries advisories."""
    return f"{work_consumer}_exhausted"


# Request-reply (core NATS, one queue group per service): the gateway asks the invoice store
# (the persister) and the store asks the rules (the validator). Not captured by any stream.
LIST_INVOICES_SUBJECT = "invoices.store.list"
LIST_SAVED_INVOICES_SUBJECT = "invoices.store.list_saved"
GET_INVOICE_SUBJECT = "invoices.store.get"
REVIEW_INVOICE_SUBJECT = "invoices.store.review"
COUNT_INVOICES_SUBJECT = "invoices.store.count"
CHECK_CORRECTIONS_SUBJECT = "invoices.store.check"
CHECK_INVOICE_SUBJECT = "invoices.rules.check"
STORE_QUEUE = "persister"
RULES_QUEUE = "validator"

# Webhooks (spec 6): one message per delivery to one registered URL in a work-queue stream,
# taken by one durable (every replica shares it) and retried with backoff until delivered.
WEBHOOKS_STREAM = "INVOICEFLOW_WEBHOOKS"
WEBHOOK_DELIVER_SUBJECT = "webhooks.deliver"
WEBHOOK_DELIVERY_CONSUMER = "webhook_deliveries"
# A durable on the progress stream that turns tasks' terminal updates into webhook events.
WEBHOOK_TASK_EVENTS_CONSUMER = "webhook_task_events"
# Registrations, asked by the gateway (request-reply, the store's queue group).
CREATE_WEBHOOK_SUBJECT = "webhooks.store.create"
LIST_WEBHOOKS_SUBJECT = "webhooks.store.list"
DELETE_WEBHOOK_SUBJECT = "webhooks.store.delete"
LIST_DELIVERIES_SUBJECT = "webhooks.store.deliveries"
# Core NATS, every replica (no queue group): a tenant's registrations changed, drop caches.
WEBHOOKS_CHANGED_SUBJECT = "webhooks.changed"
