"""Error codes a task can end with (the `code` of an `error` update)."""

from __future__ import annotations

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
