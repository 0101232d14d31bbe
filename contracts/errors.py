"""Error codes a task can end with (the `code` of an `error` update)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ErrorCode(StrEnum):
    BLOB_NOT_FOUND = "blob_not_found"
    BLOB_URL_FORBIDDEN = "blob_url_forbidden"
    FETCH_FAILED = "fetch_failed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    FILE_TOO_LARGE = "file_too_large"
    IMAGE_TOO_LARGE = "image_too_large"
    CORRUPT_DOCUMENT = "corrupt_document"
    TOO_MANY_PAGES = "too_many_pages"
    # Over the work budget: decoding it would take more CPU time, memory or pixels than allowed.
    DOCUMENT_TOO_COMPLEX = "document_too_complex"
    PROVIDER_NOT_CONFIGURED = "provider_not_configured"
    PROVIDER_REFUSED = "provider_refused"
    PROVIDER_OUTPUT_TRUNCATED = "provider_output_truncated"
    PROVIDER_INVALID_OUTPUT = "provider_invalid_output"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    OCR_FAILED = "ocr_failed"
    RETRIES_EXHAUSTED = "retries_exhausted"
    INVOICE_NOT_STORABLE = "invoice_not_storable"
    INVALID_EINVOICE = "invalid_einvoice"
    INTERNAL_ERROR = "internal_error"


# pydantic puts these before the words of an error a validator raised: "Value error, not an
# amount". The words are the message; the prefix names an exception class.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def validation_message(errors: object, limit: int = 5) -> str:
    """pydantic's (or FastAPI's) validation errors in words: `where: what`, one per problem up
    to `limit`, without echoing the input (it may be a whole file) or an exception's name."""
    if not isinstance(errors, list | tuple):
        return "invalid request"
    parts = []
    for error in errors[:limit]:
        if not isinstance(error, Mapping):
            continue
        what = str(error.get("msg") or "invalid")
        for prefix in _PYDANTIC_PREFIXES:
            what = what.removeprefix(prefix)
        location = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{location}: {what}" if location else what)
    return "; ".join(parts) or "invalid request"
