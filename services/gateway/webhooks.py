"""Webhooks over HTTP (spec 6): register, list, delete, and read a webhook's deliveries.

Thin: the URL is checked against the host policy (the same as `blob_url`'s, which delivery
checks again at every attempt), then the request goes to the store scoped to the caller's
tenant; the store's answer is returned as it came.
"""

from __future__ import annotations

import re
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.names import (
    CREATE_WEBHOOK_SUBJECT,
    DELETE_WEBHOOK_SUBJECT,
    LIST_DELIVERIES_SUBJECT,
    LIST_WEBHOOKS_SUBJECT,
)
from contracts.webhooks import (
    DEFAULT_DELIVERIES,
    MAX_DELIVERIES,
    CreateWebhook,
    DeleteWebhook,
    ListDeliveries,
    ListWebhooks,
    WebhookEvent,
)
from services.egress.hosts import UrlRefusedError, UrlUnresolvedError, pin
from services.gateway.deps import CallerDep, GatewayDep
from services.gateway.errors import ApiError
from services.gateway.operations import require_broker
from services.gateway.schemas import API_ERRORS

_WEBHOOK_ID = re.compile(r"^wh_[0-9a-f]{32}$")
FORBIDDEN = "webhook_url_forbidden"


class WebhookRequest(BaseModel):
    """`POST /api/webhooks`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1, max_length=2000)
    events: list[WebhookEvent] = Field(min_length=1, max_length=10)
    description: str | None = Field(default=None, max_length=500)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parsed = httpx.URL(value)
        except httpx.InvalidURL:
            raise ValueError("not a valid URL") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("an http:// or https:// URL with a host is required")
        return value


router = APIRouter(
    prefix="/api/webhooks",
    tags=["webhooks"],
    responses=API_ERRORS,
    dependencies=[Depends(require_broker)],
)


@router.post("", status_code=201)
async def create_webhook(body: WebhookRequest, caller: CallerDep, gw: GatewayDep) -> JSONResponse:
    try:
        await pin(body.url, gw.settings.fetch_allowed_hosts)
    except UrlRefusedError as exc:
        raise ApiError(422, FORBIDDEN, f"the webhook URL is refused: {exc}") from exc
    except UrlUnresolvedError as exc:
        raise ApiError(
            422, FORBIDDEN, f"the webhook URL is refused: {exc}, so its address cannot be checked"
        ) from exc
    request = CreateWebhook(
        tenant=caller.tenant,
        url=body.url,
        events=tuple(body.events),
        description=body.description,
    )
    created = await gw.store.ask("webhook_create", CREATE_WEBHOOK_SUBJECT, request)
    return JSONResponse(created, status_code=201)


@router.get("")
async def list_webhooks(caller: CallerDep, gw: GatewayDep) -> JSONResponse:
    request = ListWebhooks(tenant=caller.tenant)
    return JSONResponse(await gw.store.ask("webhook_list", LIST_WEBHOOKS_SUBJECT, request))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, caller: CallerDep, gw: GatewayDep) -> Response:
    check_webhook_id(webhook_id)
    request = DeleteWebhook(tenant=caller.tenant, webhook_id=webhook_id)
    await gw.store.ask("webhook_delete", DELETE_WEBHOOK_SUBJECT, request)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: str,
    caller: CallerDep,
    gw: GatewayDep,
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERIES)] = DEFAULT_DELIVERIES,
) -> JSONResponse:
    check_webhook_id(webhook_id)
    request = ListDeliveries(tenant=caller.tenant, webhook_id=webhook_id, limit=limit)
    return JSONResponse(await gw.store.ask("webhook_deliveries", LIST_DELIVERIES_SUBJECT, request))


def check_webhook_id(webhook_id: str) -> None:
    if not _WEBHOOK_ID.match(webhook_id):
        raise ApiError(404, "webhook_not_found", "no such webhook")
