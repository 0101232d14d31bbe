"""A saved invoice's original document and its pages (spec section 6), scoped like the invoice.

`/document` streams the stored file (the blob keyed by the invoice's `sha256`) with the type
sniffed when it was stored; `/pages/{n}` is page n as a PNG of at most 1600 px on its longer
side, the page geometry evidence `bbox` fractions refer to (services/pages). An XML e-invoice
is data, not pages: it has no page 1.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from contracts.media import ALLOWED_MEDIA_TYPES
from contracts.store import GetInvoice
from services.gateway.auth import Caller
from services.gateway.deps import CallerDep, GatewayDep
from services.gateway.downloads import BlobResponse, blob_etag
from services.gateway.errors import ApiError, try_again
from services.gateway.invoices import check_invoice_id
from services.gateway.operations import require_broker
from services.gateway.pages import (
    DocumentGoneError,
    RenderersBusyError,
    page_etag,
)
from services.gateway.schemas import API_ERRORS
from services.gateway.state import Gateway
from services.messaging.blobs import BlobCorruptError, BlobTooLargeError
from services.pages.render import PageNotFoundError
from services.worker.errors import DependencyUnavailableError, StageError

# An invoice's document never changes (it is its sha256's blob), but it is the tenant's:
# browsers may keep it, shared caches may not, and not across API keys.
DOCUMENT_HEADERS = {
    "Cache-Control": "private, max-age=31536000, immutable",
    "Vary": "Authorization",
}
# A page may look better after an upgrade (its ETag names the renderer's version): a day.
PAGE_HEADERS = {
    "Cache-Control": "private, max-age=86400",
    "Vary": "Authorization",
    "X-Content-Type-Options": "nosniff",
}
RETRY_AFTER_SECONDS = 1
_PAGE_NUMBER = re.compile(r"^[0-9]{1,6}$")

DOCUMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **API_ERRORS,
    200: {
        "description": "The original file with its content type (sniffed from its bytes).",
        "content": {media_type: {} for media_type in ALLOWED_MEDIA_TYPES},
    },
    304: {"description": "`If-None-Match` names the document's ETag."},
}
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **API_ERRORS,
    200: {
        "description": "Page n as PNG, at most 1600 px on its longer side.",
        "content": {"image/png": {}},
    },
    304: {"description": "`If-None-Match` names the page's ETag."},
}

router = APIRouter(
    prefix="/api/invoices",
    tags=["invoices"],
    dependencies=[Depends(require_broker)],
)


@router.get("/{invoice_id}/document", response_class=Response, responses=DOCUMENT_RESPONSES)
async def get_document(
    invoice_id: str, request: Request, caller: CallerDep, gw: GatewayDep
) -> Response:
    """The invoice's original file, streamed: `404 invoice_not_found` (also another tenant's),
    `404 document_not_found` when the file is no longer stored."""
    found = await _saved(gw, caller, invoice_id)
    sha256 = _sha256_of(found)
    if _not_modified(request, blob_etag(sha256)):
        return Response(status_code=304, headers={**DOCUMENT_HEADERS, "ETag": blob_etag(sha256)})
    blob = await gw.blobs.open(sha256)
    if blob is None:
        raise _document_gone()
    headers = {**DOCUMENT_HEADERS, "Content-Disposition": _inline(str(found.get("filename")))}
    return BlobResponse(blob, gw.blob_readers, gw.settings.blob_send_timeout_seconds, headers)


@router.get("/{invoice_id}/pages/{n}", response_class=Response, responses=PAGE_RESPONSES)
async def get_page(
    invoice_id: str, n: str, request: Request, caller: CallerDep, gw: GatewayDep
) -> Response:
    """Page `n` (1-based) as PNG: `404 page_not_found` past the last page, for a number below
    1 or not a number, and for an XML e-invoice (which has no pages)."""
    check_invoice_id(invoice_id)
    number = _page_number(n)
    sha256 = _sha256_of(await _saved(gw, caller, invoice_id))
    etag = page_etag(sha256, number)
    headers = {**PAGE_HEADERS, "ETag": etag}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)

    async def read() -> bytes | None:
        blob = await gw.blobs.get(sha256, max_bytes=gw.settings.max_file_bytes)
        return blob.data if blob is not None else None

    try:
        png = await gw.pages.page(sha256, number, read)
    except PageNotFoundError as exc:
        raise _no_such_page(exc) from exc
    except StageError as exc:  # the document's: a decode limit or the time budget
        raise ApiError(
            422, "page_not_renderable", f"page {number} cannot be rendered: {exc.message}"
        ) from exc
    except DependencyUnavailableError as exc:
        raise try_again(
            "service_unavailable", "this gateway is stopping; try again", RETRY_AFTER_SECONDS
        ) from exc
    except BlobTooLargeError as exc:
        raise ApiError(
            422,
            "page_not_renderable",
            f"the document is over the {gw.settings.max_file_bytes} bytes this gateway renders",
        ) from exc
    except BlobCorruptError as exc:
        raise ApiError(
            500, "document_corrupt", "the stored document does not match its checksum"
        ) from exc
    except DocumentGoneError as exc:
        raise _document_gone() from exc
    except RenderersBusyError as exc:
        raise try_again(
            "too_many_page_renders",
            "this gateway is rendering as many pages as it may; try again shortly",
            RETRY_AFTER_SECONDS,
        ) from exc
    return Response(png, media_type="image/png", headers=headers)


async def _saved(gw: Gateway, caller: Caller, invoice_id: str) -> dict[str, Any]:
    check_invoice_id(invoice_id)
    return await gw.store.get(GetInvoice(tenant=caller.tenant, invoice_id=invoice_id))


def _sha256_of(found: dict[str, Any]) -> str:
    sha256 = found.get("sha256")
    if not isinstance(sha256, str) or not sha256:
        raise _document_gone()
    return sha256


def _page_number(n: str) -> int:
    if not _PAGE_NUMBER.match(n) or int(n) < 1:
        raise ApiError(
            404, "page_not_found", "pages are numbered 1, 2, 3, …: there is no such page"
        )
    return int(n)


def _no_such_page(exc: PageNotFoundError) -> ApiError:
    if exc.count == 0:
        message = "an XML e-invoice has no pages: GET its /document for the XML itself"
    else:
        pages = "1 page" if exc.count == 1 else f"{exc.count} pages"
        message = f"the document has {pages}: there is no page {exc.number}"
    return ApiError(404, "page_not_found", message)


def _document_gone() -> ApiError:
    return ApiError(
        404, "document_not_found", "the invoice's original document is no longer stored"
    )


def _not_modified(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match")
    if not given:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in given.split(",")}
    return etag in tags or "*" in tags


def _inline(filename: str) -> str:
    """`inline` with the saved filename: an ASCII fallback and the UTF-8 original (RFC 6266)."""
    ascii_name = (
        "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_. ") else "_" for ch in filename)
        or "document"
    )
    return f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
