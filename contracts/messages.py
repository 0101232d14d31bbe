"""Commands and events that travel between the services over NATS.

Commands are imperative (`ExtractInvoice`), events past tense (`TaskUpdated`). Every message
carries `event_id`, `task_id` and `occurred_at`, and is frozen.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.errors import ErrorCode
from contracts.invoice import Invoice
from contracts.options import ProcessingOptions
from contracts.progress import Stage, UpdateType


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _event_id() -> str:
    return uuid.uuid4().hex


class _Frozen(BaseModel):
    # Unknown fields are ignored so that a newer producer can add fields during a rolling upgrade.
    model_config = ConfigDict(frozen=True, extra="ignore")


class Message(_Frozen):
    event_id: str = Field(default_factory=_event_id)
    task_id: str
    occurred_at: dt.datetime = Field(default_factory=_now)


class TaskError(_Frozen):
    code: str
    message: str


class Usage(_Frozen):
    input_tokens: int = 0
    output_tokens: int = 0


class Evidence(_Frozen):
    """Where on the document a value was read: page (1-based), box and OCR text."""

    page: int
    bbox: tuple[float, float, float, float] | None = None
    text: str


ValidationStatus = Literal["valid", "needs_review", "invalid"]
Severity = Literal["error", "warning"]


class ValidationIssue(_Frozen):
    code: str
    field: str | None
    message: str
    severity: Severity


class EInvoiceInfo(_Frozen):
    """`result.einvoice` (spec 6): a structured e-invoice's syntax, its specification identifier
    (BT-24), whether it came embedded in a PDF, and what the standard's checks found."""

    syntax: Literal["UBL", "CII"]
    specification: str | None = None
    embedded: bool = False
    issues: list[ValidationIssue] = Field(default_factory=list)


class Extraction(_Frozen):
    invoice: Invoice
    confidence: dict[str, float] = Field(default_factory=dict)
    evidence: dict[str, Evidence] = Field(default_factory=dict)
    provider: str
    model: str | None = None
    usage: Usage = Field(default_factory=Usage)
    pages: int = 1
    # Set when the invoice was read from a structured e-invoice (provider `einvoice`).
    einvoice: EInvoiceInfo | None = None


class ValidationReport(_Frozen):
    status: ValidationStatus
    issues: list[ValidationIssue] = Field(default_factory=list)


class TaskResult(_Frozen):
    """The `result` of a completed task (spec section 3)."""

    invoice: Invoice
    confidence: dict[str, float]
    validation: ValidationReport
    saved: bool
    invoice_id: str | None
    duplicate_of: str | None
    provider: str
    usage: Usage
    # Spec 6: where each extracted value was read (page, box, text; for an e-invoice its XPath).
    evidence: dict[str, Evidence] = Field(default_factory=dict)
    einvoice: EInvoiceInfo | None = None


# --- commands -------------------------------------------------------------------------------


class StageCommand(Message):
    """A command that starts a stage of a task.

    `progress_mark` is where the task's progress stood when the command was sent, so the stage
    can append without reading the progress stream first. It is a hint: a stale mark is caught by
    the stream's expected-sequence check, and redeliveries read the stream instead.
    """

    progress_mark: ProgressMark | None = None


class ExtractInvoice(StageCommand):
    tenant: str | None = None
    filename: str
    blob_url: str
    options: ProcessingOptions = Field(default_factory=ProcessingOptions)


class ValidateInvoice(StageCommand):
    tenant: str | None = None
    filename: str
    options: ProcessingOptions
    extraction: Extraction
    sha256: str | None = None


class PersistInvoice(StageCommand):
    tenant: str | None = None
    filename: str
    options: ProcessingOptions
    extraction: Extraction
    validation: ValidationReport
    sha256: str | None = None


# --- events ---------------------------------------------------------------------------------


class TaskUpdated(Message):
    """One stored progress update: the `data` of a WebSocket `task_update` event."""

    type: UpdateType
    seq: int = Field(ge=1)
    progress: int = Field(ge=0, le=100)
    stage: Stage
    message: str
    timestamp: float
    result: TaskResult | None = None
    error: TaskError | None = None


class ProgressMark(_Frozen):
    """The last stored update of a task and its progress-stream sequence (0 and None: none)."""

    stream_seq: int = Field(default=0, ge=0)
    last: TaskUpdated | None = None


class TaskDeadLettered(Message):
    """A work message that failed for good, kept with the reason for inspection or replay."""

    consumer: str
    subject: str
    error: TaskError
    deliveries: int
    command: dict[str, Any]


class TaskRecord(_Frozen):
    """What the gateway stores when it accepts a task (tasks KV bucket, key = task_id)."""

    task_id: str
    tenant: str | None = None
    filename: str
    token_sha256: str
    blob_url: str
    options: ProcessingOptions
    created_at: dt.datetime = Field(default_factory=_now)


def task_error(code: ErrorCode | str, message: str) -> TaskError:
    return TaskError(code=str(code), message=message)


# Commands name `ProgressMark`, defined after them with the events it holds.
for _command in (StageCommand, ExtractInvoice, ValidateInvoice, PersistInvoice):
    _command.model_rebuild()
