"""The HTTP endpoints of spec section 1 (saved invoices live in `invoices.py`).

Handlers stay thin: parse, call one of the plain modules, answer. They return JSON responses
directly, so nothing is validated twice on the way out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from importlib import metadata
from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from contracts import ProcessingOptions
from contracts.status import task_status
from services.gateway import documents, invoices, webhooks
from services.gateway.auth import may_see
from services.gateway.deps import CallerDep, GatewayDep, authenticate
from services.gateway.depth import TOO_DEEP, too_deep_message, within_depth
from services.gateway.downloads import BlobResponse
from services.gateway.errors import ApiError, describe_validation
from services.gateway.operations import require_broker
from services.gateway.schemas import (
    API_ERRORS,
    BatchRequest,
    HealthResponse,
    TaskAccepted,
    TasksAccepted,
    TaskStatusResponse,
    TriggerRequest,
    UploadResponse,
)
from services.gateway.settings import GatewaySettings
from services.gateway.state import Gateway
from services.gateway.tasks import AcceptedTask, token_matches
from services.gateway.uploads import Upload, clean_filename, read_upload
from services.messaging.blobs import StoredBlob

JSON_BODY_LIMIT = 256 * 1024
# Multipart boundaries and part headers around each file.
MULTIPART_OVERHEAD = 64 * 1024

try:
    VERSION = metadata.version("invoiceflow")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0.0.0"


def build_routers(settings: GatewaySettings) -> list[APIRouter]:
    file_limit = settings.max_file_bytes + MULTIPART_OVERHEAD
    public = APIRouter()
    public.add_api_route(
        "/api/health", health, methods=["GET"], response_model=HealthResponse, tags=["health"]
    )
    public.add_api_route(
        "/blobs/{blob_id}",
        get_blob,
        methods=["GET"],
        dependencies=[Depends(require_broker)],
        response_class=Response,
        responses=API_ERRORS,
        tags=["blobs"],
    )
    # Every /api/* call but health needs an API key when keys are configured.
    api = APIRouter(
        prefix="/api",
        dependencies=[Depends(authenticate), Depends(require_broker)],
        responses=API_ERRORS,
    )
    api.add_api_route(
        "/upload",
        upload_blob,
        methods=["POST"],
        status_code=201,
        response_model=UploadResponse,
        max_body_size=file_limit,
        tags=["blobs"],
    )
    api.add_api_route(
        "/invoices/upload",
        trigger,
        methods=["POST"],
        status_code=202,
        response_model=TaskAccepted,
        max_body_size=JSON_BODY_LIMIT,
        tags=["tasks"],
    )
    api.add_api_route(
        "/invoices/batch",
        trigger_batch,
        methods=["POST"],
        status_code=202,
        response_model=TasksAccepted,
        max_body_size=JSON_BODY_LIMIT,
        tags=["tasks"],
    )
    api.add_api_route(
        "/invoices",
        upload_and_trigger,
        methods=["POST"],
        status_code=202,
        response_model=TasksAccepted,
        max_body_size=file_limit * settings.max_batch_files,
        tags=["tasks"],
    )
    api.add_api_route(
        "/invoices/status/{task_id}",
        get_task_status,
        methods=["GET"],
        response_model=TaskStatusResponse,
        tags=["tasks"],
    )
    # After `api`: its fixed paths (/invoices/upload, /invoices/status/...) are matched first.
    return [public, api, invoices.router, documents.router, webhooks.router]


async def health(gw: GatewayDep) -> JSONResponse:
    connected = gw.nc.is_connected
    return JSONResponse(
        {
            "status": "ok" if connected else "degraded",
            "nats": "connected" if connected else "disconnected",
            "version": VERSION,
        },
        status_code=200 if connected else 503,
    )


async def get_blob(blob_id: str, gw: GatewayDep) -> Response:
    blob = await gw.blobs.open(blob_id)
    if blob is None:
        raise ApiError(404, "blob_not_found", "no such blob")
    return BlobResponse(blob, gw.blob_readers, gw.settings.blob_send_timeout_seconds)


async def upload_blob(
    request: Request, file: Annotated[UploadFile, File()], gw: GatewayDep
) -> JSONResponse:
    upload = await read_upload(file, gw.settings.max_file_bytes)
    uploaded = await _store(gw, request, upload)
    return JSONResponse(uploaded.body(), status_code=201)


async def trigger(body: TriggerRequest, caller: CallerDep, gw: GatewayDep) -> JSONResponse:
    task = await gw.tasks.accept(
        tenant=caller.tenant,
        filename=_filename(body.filename, body.blob_url),
        blob_url=body.blob_url,
        options=body.options or ProcessingOptions(),
    )
    answer = task.body()
    del answer["filename"]
    return JSONResponse(answer, status_code=202)


async def trigger_batch(body: BatchRequest, caller: CallerDep, gw: GatewayDep) -> JSONResponse:
    _check_count(len(body.files), gw.settings)
    options = body.options or ProcessingOptions()
    tasks = await asyncio.gather(
        *(
            gw.tasks.accept(
                tenant=caller.tenant,
                filename=_filename(ref.filename, ref.blob_url),
                blob_url=ref.blob_url,
                options=options,
            )
            for ref in body.files
        )
    )
    return _accepted(tasks)


async def upload_and_trigger(
    request: Request,
    file: Annotated[list[UploadFile], File()],
    caller: CallerDep,
    gw: GatewayDep,
    options: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    _check_count(len(file), gw.settings)
    parsed = _parse_options(options, gw.settings.json_max_depth)
    # Every file is checked before any is stored or any task starts: all or nothing.
    uploads = [await read_upload(one, gw.settings.max_file_bytes) for one in file]
    stored = await asyncio.gather(*(_store(gw, request, upload) for upload in uploads))
    tasks = await asyncio.gather(
        *(
            gw.tasks.accept(
                tenant=caller.tenant,
                filename=uploaded.filename,
                blob_url=uploaded.blob_url,
                options=parsed,
            )
            for uploaded in stored
        )
    )
    return _accepted(tasks)


async def get_task_status(
    task_id: str, caller: CallerDep, gw: GatewayDep, token: str | None = None
) -> JSONResponse:
    record = await gw.tasks.record(task_id)
    if record is None or not may_see(caller, record):
        raise ApiError(404, "task_not_found", "no such task")
    if token is not None and not token_matches(token, record):
        raise ApiError(403, "invalid_token", "wrong token for this task")
    last = await gw.tasks.last_update(task_id)
    return JSONResponse(task_status(record, last))


# --- helpers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Uploaded:
    blob_url: str
    filename: str
    blob: StoredBlob

    def body(self) -> dict[str, str | int]:
        return {
            "blob_url": self.blob_url,
            "blob_id": self.blob.blob_id,
            "filename": self.filename,
            "size": self.blob.size,
            "content_type": self.blob.content_type,
            "sha256": self.blob.blob_id,
        }


async def _store(gw: Gateway, request: Request, upload: Upload) -> _Uploaded:
    blob = await gw.blobs.put(upload.data, upload.content_type)
    blob_url = f"{_public_url(gw.settings, request)}/blobs/{blob.blob_id}"
    return _Uploaded(blob_url, upload.filename, blob)


def _public_url(settings: GatewaySettings, request: Request) -> str:
    return settings.public_url or str(request.base_url).rstrip("/")


def _accepted(tasks: list[AcceptedTask]) -> JSONResponse:
    return JSONResponse({"tasks": [task.body() for task in tasks]}, status_code=202)


def _check_count(count: int, settings: GatewaySettings) -> None:
    if count > settings.max_batch_files:
        raise ApiError(
            413, "too_many_files", f"at most {settings.max_batch_files} files per request"
        )


def _parse_options(raw: str | None, max_depth: int) -> ProcessingOptions:
    if raw is None or not raw.strip():
        return ProcessingOptions()
    if not within_depth(raw, max_depth):
        raise ApiError(422, TOO_DEEP, "options: " + too_deep_message(max_depth))
    try:
        return ProcessingOptions.model_validate_json(raw)
    except ValidationError as exc:
        message = "options: " + describe_validation(exc.errors())
        raise ApiError(422, "validation_error", message) from exc


def _filename(given: str | None, blob_url: str) -> str:
    if given and given.strip():
        return clean_filename(given)
    return clean_filename(PurePosixPath(unquote(urlsplit(blob_url).path)).name)
