"""invoiceflow contracts: the only code the services share.

Event and command models, the invoice schema, how printed amounts are read, processing
options, the pipeline's steps and stages (`pipeline.py`), and the NATS subject, stream,
consumer and bucket names.
"""

from contracts.errors import ErrorCode
from contracts.invoice import (
    CONFIDENCE_FIELDS,
    Invoice,
    LineItem,
    Money,
    Party,
    Payment,
    TaxDetail,
    filled_values,
)
from contracts.media import ALLOWED_MEDIA_TYPES, sniff_media_type
from contracts.messages import (
    EInvoiceInfo,
    Evidence,
    ExtractInvoice,
    Extraction,
    Message,
    PersistInvoice,
    ProgressMark,
    StageCommand,
    TaskDeadLettered,
    TaskError,
    TaskRecord,
    TaskResult,
    TaskUpdated,
    Usage,
    ValidateInvoice,
    ValidationIssue,
    ValidationReport,
    task_error,
)
from contracts.money import PrintedAmount, find_amounts, iter_amounts, parse_amount
from contracts.names import progress_subject
from contracts.options import ProcessingOptions, Provider
from contracts.pipeline import PIPELINE, STAGE_PROGRESS, StageSpan, Step
from contracts.progress import Stage, TaskStatus, UpdateType, position, status_for

__all__ = [
    "ALLOWED_MEDIA_TYPES",
    "CONFIDENCE_FIELDS",
    "PIPELINE",
    "STAGE_PROGRESS",
    "EInvoiceInfo",
    "ErrorCode",
    "Evidence",
    "ExtractInvoice",
    "Extraction",
    "Invoice",
    "LineItem",
    "Message",
    "Money",
    "Party",
    "Payment",
    "PersistInvoice",
    "PrintedAmount",
    "ProcessingOptions",
    "ProgressMark",
    "Provider",
    "Stage",
    "StageCommand",
    "StageSpan",
    "Step",
    "TaskDeadLettered",
    "TaskError",
    "TaskRecord",
    "TaskResult",
    "TaskStatus",
    "TaskUpdated",
    "TaxDetail",
    "UpdateType",
    "Usage",
    "ValidateInvoice",
    "ValidationIssue",
    "ValidationReport",
    "filled_values",
    "find_amounts",
    "iter_amounts",
    "parse_amount",
    "position",
    "progress_subject",
    "sniff_media_type",
    "status_for",
    "task_error",
]
