"""The invoice store's requests and replies (NATS request-reply) and the saved-invoice shapes
the HTTP API returns (spec section 1: `GET /api/invoices`, `GET /api/invoices/{id}`).

`tenant` None in a request is the open (keyless) deployment's single tenant, stored as "";
with API keys the gateway always names the caller's tenant.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from contracts.invoice import Invoice, LineItem
from contracts.messages import (
    EInvoiceInfo,
    Evidence,
    Usage,
    ValidationIssue,
    ValidationReport,
    ValidationStatus,
)

# What a saved invoice's `status` may be: the validation status until a person reviews it.
InvoiceStatus = Literal["valid", "needs_review", "invalid", "approved", "rejected"]
INVOICE_STATUSES: tuple[str, ...] = ("valid", "needs_review", "invalid", "approved", "rejected")
ReviewDecision = Literal["approve", "reject"]
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- requests -------------------------------------------------------------------------------


class ListInvoices(_Frozen):
    tenant: str | None = None
    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = None
    status: InvoiceStatus | None = None
    # Prefix of the normalised vendor name: "acme" finds "ACME GmbH" and "Acme, Inc.".
    vendor: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    # True: only duplicates; False: only originals; None: both.
    duplicate: bool | None = None


class ListSavedInvoices(ListInvoices):
    """A page of the list with each invoice whole (the export's): up to `limit`, and no more
    than fit in `max_bytes` of JSON (at least one), so the reply stays within NATS's message
    size however long the invoices are."""

    max_bytes: int = Field(default=1 << 19, ge=1024)  # half a MiB: half of NATS's default limit


class CountInvoices(_Frozen):
    """How many invoices of each status match the list's filters (all but `status`): the
    counts of the review workspace's filter bar."""

    tenant: str | None = None
    vendor: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    duplicate: bool | None = None


class GetInvoice(_Frozen):
    tenant: str | None = None
    invoice_id: str


class ReviewInvoice(_Frozen):
    """A person's decision on a saved invoice, with the fields they corrected.

    `corrections` maps field paths (`total`, `vendor.name`, `line_items`, ...) to new values in
    the invoice's JSON shape. `expected_version` refuses the review if someone else changed the
    invoice since the reviewer loaded it.
    """

    tenant: str | None = None
    invoice_id: str
    reviewer: str
    decision: ReviewDecision
    corrections: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    expected_version: int | None = None


class CheckCorrections(_Frozen):
    """A review's corrections applied and re-validated exactly as the review would, nothing
    saved: what the invoice would look like, and its findings, before a reviewer decides."""

    tenant: str | None = None
    invoice_id: str
    corrections: dict[str, Any] = Field(default_factory=dict)


class CheckInvoice(_Frozen):
    """Run the validation rules on an invoice (a review re-validates the corrected one)."""

    invoice: Invoice
    confidence: dict[str, float] = Field(default_factory=dict)
    threshold: float = Field(ge=0.0, le=1.0)


# --- saved invoices -------------------------------------------------------------------------


class FieldChange(_Frozen):
    field: str
    old: Any = None
    new: Any = None


class Review(_Frozen):
    """One entry of an invoice's audit trail: who decided what, changing which fields, when."""

    review_id: str
    reviewer: str
    decision: ReviewDecision
    changes: list[FieldChange]
    note: str | None
    status_before: InvoiceStatus
    status_after: InvoiceStatus
    created_at: dt.datetime


class InvoiceSummary(_Frozen):
    """A saved invoice as listed: the columns people filter and sort on."""

    invoice_id: str
    task_id: str
    filename: str
    sha256: str | None
    status: InvoiceStatus
    validation_status: ValidationStatus
    review_status: Literal["approved", "rejected"] | None
    duplicate_of: str | None
    document_type: str | None
    invoice_number: str | None
    invoice_date: dt.date | None
    due_date: dt.date | None
    currency: str | None
    vendor_name: str | None
    total: str | None
    issue_count: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class SavedInvoice(InvoiceSummary):
    """One saved invoice whole: the invoice with its line items, findings and audit trail."""

    invoice: Invoice
    confidence: dict[str, float]
    validation: ValidationReport
    confidence_threshold: float
    provider: str
    usage: Usage
    reviews: list[Review] = Field(default_factory=list)
    # Spec 6: where each extracted value was read, as the task's result had it.
    evidence: dict[str, Evidence] = Field(default_factory=dict)
    # Set when the invoice was read from a structured e-invoice (spec 6, `result.einvoice`).
    einvoice: EInvoiceInfo | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def line_items(self) -> list[LineItem]:
        """The invoice's line items, also at the top: "one saved invoice with its line items"."""
        return self.invoice.line_items


class InvoicePage(_Frozen):
    items: list[InvoiceSummary]
    next_cursor: str | None


class SavedInvoicePage(_Frozen):
    items: list[SavedInvoice]
    next_cursor: str | None


class InvoiceCounts(_Frozen):
    """Matching invoices per status (every status present, 0 when none) and all of them."""

    counts: dict[InvoiceStatus, int]
    total: int


class CheckedCorrections(_Frozen):
    """The answer to `CheckCorrections`: the corrected invoice, its confidence (corrected
    fields at 1.0), its findings, and the version they were applied to; nothing was saved."""

    invoice: Invoice
    confidence: dict[str, float]
    validation: ValidationReport
    version: int


# --- replies --------------------------------------------------------------------------------


class StoreErrorCode(StrEnum):
    """Every `code` the store refuses a request with; what each means to a client is for the
    gateway to say.
    """

    INVALID_CURSOR = "invalid_cursor"
    INVOICE_NOT_FOUND = "invoice_not_found"
    VERSION_CONFLICT = "version_conflict"
    INVALID_CORRECTION = "invalid_correction"
    INVOICE_INVALID = "invoice_invalid"
    INVOICE_NOT_STORABLE = "invoice_not_storable"
    # A review re-validates through the validator: asking it failed.
    VALIDATOR_UNAVAILABLE = "validator_unavailable"
    VALIDATOR_TIMEOUT = "validator_timeout"
    VALIDATOR_FAILED = "validator_failed"
    # Webhooks (contracts/webhooks.py).
    WEBHOOK_NOT_FOUND = "webhook_not_found"
    TOO_MANY_WEBHOOKS = "too_many_webhooks"
    # PostgreSQL is away or overloaded: try again later.
    DATABASE_UNAVAILABLE = "database_unavailable"
    INTERNAL_ERROR = "internal_error"


class StoreError(_Frozen):
    """Why a request was refused: a `StoreErrorCode` and words; `issues` the findings behind it.

    `code` is read as a plain string, so a gateway meets a code newer than itself as unknown
    rather than as an unreadable reply.
    """

    code: str
    message: str
    issues: list[ValidationIssue] | None = None


class StoreReply(_Frozen):
    """Every store reply: `data` (the JSON of the answer) or `error`."""

    data: dict[str, Any] | None = None
    error: StoreError | None = None
