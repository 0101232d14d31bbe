"""Saved invoices over HTTP: the list and its counts, one invoice, and a person's review of it
(checked before it is saved, if the reviewer asks).

Thin: the query or body becomes a store request scoped to the caller's tenant; the store's
answer is returned as it came.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts import Invoice
from contracts.store import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    CheckCorrections,
    CheckedCorrections,
    CountInvoices,
    GetInvoice,
    InvoiceCounts,
    InvoicePage,
    InvoiceStatus,
    ListInvoices,
    ReviewDecision,
    ReviewInvoice,
    SavedInvoice,
)
from services.gateway.deps import CallerDep, GatewayDep
from services.gateway.einvoice_export import NotExportableError, export_einvoice
from services.gateway.errors import ApiError
from services.gateway.exports import MEDIA_TYPES, ExportListFormat, export_lines, page_query
from services.gateway.operations import require_broker
from services.gateway.schemas import API_ERRORS

_INVOICE_ID = re.compile(r"^inv_[0-9a-f]{32}$")


class FilterQuery(BaseModel):
    """The filters a list, its counts and its export share; an unknown parameter is refused,
    not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vendor: str | None = Field(default=None, max_length=200)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    duplicate: bool | None = None

    @field_validator("cursor", "vendor", mode="before", check_fields=False)
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # `?cursor=` (a first page built by string concatenation) means no cursor.
        return None if isinstance(value, str) and not value.strip() else value


class ListQuery(FilterQuery):
    """The query of `GET /api/invoices`."""

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=512)
    status: InvoiceStatus | None = None


class ExportQuery(FilterQuery):
    """The query of `GET /api/invoices/export`: the list's filters and a format."""

    status: InvoiceStatus | None = None
    format: ExportListFormat = "csv"


class CheckRequest(BaseModel):
    """`POST /api/invoices/{invoice_id}/check`: corrections as a review takes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    corrections: dict[str, Any] = Field(default_factory=dict, max_length=100)


class ReviewRequest(BaseModel):
    """`POST /api/invoices/{invoice_id}/review`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: ReviewDecision
    reviewer: str = Field(min_length=1, max_length=200)
    # Field path -> corrected value, in the invoice's JSON shape: {"total": "193.00",
    # "vendor.name": "ACME GmbH", "line_items": [...]}.
    corrections: dict[str, Any] = Field(default_factory=dict, max_length=100)
    note: str | None = Field(default=None, max_length=2000)
    # The `version` the reviewer saw; a newer one refuses the review with 409.
    expected_version: int | None = Field(default=None, ge=1)


router = APIRouter(
    prefix="/api/invoices",
    tags=["invoices"],
    responses=API_ERRORS,
    dependencies=[Depends(require_broker)],
)


@router.get("", response_model=InvoicePage)
async def list_invoices(
    query: Annotated[ListQuery, Query()], caller: CallerDep, gw: GatewayDep
) -> JSONResponse:
    request = ListInvoices(tenant=caller.tenant, **query.model_dump(exclude_none=True))
    return JSONResponse(await gw.store.list(request))


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
async def export_invoices(
    query: Annotated[ExportQuery, Query()], caller: CallerDep, gw: GatewayDep
) -> StreamingResponse:
    """Every saved invoice matching the filters, streamed: CSV (the spec's columns) or JSON
    Lines (one saved invoice per line, as `GET /api/invoices/{id}` answers)."""
    filters = query.model_dump(exclude_none=True, exclude={"format"})
    first_query = page_query(
        ListInvoices(tenant=caller.tenant, **filters), None, gw.store.page_bytes
    )
    first_page = await gw.store.list_saved(first_query)
    lines = export_lines(query.format, first_query, first_page, gw.store.list_saved)
    return StreamingResponse(
        lines,
        media_type=MEDIA_TYPES[query.format],
        headers={"Content-Disposition": f'attachment; filename="invoices.{query.format}"'},
    )


# Before `/{invoice_id}`: "counts" is not an invoice id.
@router.get("/counts", response_model=InvoiceCounts)
async def count_invoices(
    query: Annotated[FilterQuery, Query()], caller: CallerDep, gw: GatewayDep
) -> JSONResponse:
    """How many invoices of each status match the filters (those of the list but `status`)."""
    request = CountInvoices(tenant=caller.tenant, **query.model_dump(exclude_none=True))
    return JSONResponse(await gw.store.count(request))


@router.get("/{invoice_id}", response_model=SavedInvoice)
async def get_invoice(invoice_id: str, caller: CallerDep, gw: GatewayDep) -> JSONResponse:
    check_invoice_id(invoice_id)
    found = await gw.store.get(GetInvoice(tenant=caller.tenant, invoice_id=invoice_id))
    return JSONResponse(found)


ExportFormat = Literal["json", "ubl", "cii"]


@router.get("/{invoice_id}/export")
async def export_invoice(
    invoice_id: str, caller: CallerDep, gw: GatewayDep, format: ExportFormat = "json"
) -> Response:
    """One saved invoice as JSON, or as an EN 16931 e-invoice (UBL 2.1 or CII); `422
    not_exportable` with the missing fields when the invoice lacks what the syntax requires."""
    check_invoice_id(invoice_id)
    found = await gw.store.get(GetInvoice(tenant=caller.tenant, invoice_id=invoice_id))
    if format == "json":
        return JSONResponse(found)
    invoice = Invoice.model_validate(found.get("invoice") or {})
    specification = (found.get("einvoice") or {}).get("specification")
    try:
        xml = export_einvoice(invoice, format, specification)
    except NotExportableError as exc:
        raise ApiError(
            422,
            "not_exportable",
            f"the invoice lacks what {format.upper()} requires: {', '.join(exc.missing)}",
            details={"missing": exc.missing},
        ) from exc
    name = f"{invoice.invoice_number or invoice_id}-{format}.xml"
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return Response(
        xml,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


@router.post("/{invoice_id}/review", response_model=SavedInvoice)
async def review_invoice(
    invoice_id: str, body: ReviewRequest, caller: CallerDep, gw: GatewayDep
) -> JSONResponse:
    check_invoice_id(invoice_id)
    request = ReviewInvoice(
        tenant=caller.tenant, invoice_id=invoice_id, **body.model_dump(exclude_none=True)
    )
    return JSONResponse(await gw.store.review(request))


@router.post("/{invoice_id}/check", response_model=CheckedCorrections)
async def check_corrections(
    invoice_id: str, body: CheckRequest, caller: CallerDep, gw: GatewayDep
) -> JSONResponse:
    """The invoice with these corrections and its findings, as a review would save them;
    nothing is saved. Bad corrections are refused as a review refuses them."""
    check_invoice_id(invoice_id)
    request = CheckCorrections(
        tenant=caller.tenant, invoice_id=invoice_id, corrections=body.corrections
    )
    return JSONResponse(await gw.store.check(request))


def check_invoice_id(invoice_id: str) -> None:
    if not _INVOICE_ID.match(invoice_id):
        raise ApiError(404, "invoice_not_found", "no such invoice")
