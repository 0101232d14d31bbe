"""Request and response bodies of the HTTP API (spec section 1)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts import ProcessingOptions

MAX_URL_CHARS = 2048


def check_blob_url(value: str) -> str:
    # Only the scheme is checked here; the extractor enforces which hosts it may fetch from.
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ValueError("blob_url is not a URL") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("blob_url must be an http(s) URL")
    return value


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlobRef(_Request):
    blob_url: str = Field(max_length=MAX_URL_CHARS)
    filename: str | None = Field(default=None, max_length=1024)

    @field_validator("blob_url")
    @classmethod
    def _check_blob_url(cls, value: str) -> str:
        return check_blob_url(value)


class TriggerRequest(BlobRef):
    options: ProcessingOptions | None = None


class BatchRequest(_Request):
    files: list[BlobRef] = Field(min_length=1)
    options: ProcessingOptions | None = None


# --- responses (for the OpenAPI document; handlers return JSON directly) ------------------


class UploadResponse(BaseModel):
    blob_url: str
    blob_id: str
    filename: str
    size: int
    content_type: str
    sha256: str


class TaskAccepted(BaseModel):
    task_id: str
    websocket_room: str
    token: str
    status: str


class BatchTask(TaskAccepted):
    filename: str


class TasksAccepted(BaseModel):
    tasks: list[BatchTask]


class TaskStatusResponse(BaseModel):
    task_id: str
    filename: str
    status: str
    stage: str | None
    progress: int
    message: str
    result: dict[str, Any] | None
    error: dict[str, str] | None
    updated_at: float


class HealthResponse(BaseModel):
    status: str
    nats: str
    version: str


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


# The error answers of the API, for the OpenAPI document.
API_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 415, 422, 503, 504)
}
