"""Reading an uploaded file: enforce the size limit, recognise the type by its bytes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from starlette.datastructures import UploadFile

from contracts import sniff_media_type
from contracts.media import SNIFF_BYTES
from services.gateway.errors import ApiError

MAX_FILENAME_CHARS = 255
ALLOWED_NAMES = "PDF, PNG, JPEG, WebP, TIFF or e-invoice XML"


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


def file_too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "file_too_large", f"files are limited to {max_bytes} bytes")


async def read_upload(file: UploadFile, max_bytes: int) -> Upload:
    """The file's bytes and sniffed type; 413 when over `max_bytes`, 415 when not a document."""
    if file.size is not None and file.size > max_bytes:
        raise file_too_large(max_bytes)
    # Reading one byte more than allowed tells "too large" apart without reading it all.
    data = await file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise file_too_large(max_bytes)
    return accept_bytes(data, file.filename)


def accept_bytes(data: bytes, filename: str | None) -> Upload:
    content_type = sniff_media_type(data[:SNIFF_BYTES])
    if content_type is None:
        name = clean_filename(filename)
        raise ApiError(415, "unsupported_media_type", f"{name} is not a {ALLOWED_NAMES} file")
    return Upload(clean_filename(filename), content_type, data)


def clean_filename(filename: str | None) -> str:
    """The last path component, without control characters, at most 255 characters."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:MAX_FILENAME_CHARS] or "upload"
