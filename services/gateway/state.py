"""What the running gateway holds: built once by the app's lifespan, shared by the handlers."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI, Request
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from starlette.types import ASGIApp

from services.gateway.auth import ApiKeys
from services.gateway.downloads import BlobReaders
from services.gateway.hub import Hub
from services.gateway.pages import PageRenderer
from services.gateway.settings import GatewaySettings
from services.gateway.store import InvoiceStore
from services.gateway.tasks import TaskService
from services.messaging.blobs import BlobStore
from services.telemetry.health import Health


@dataclass(frozen=True)
class Gateway:
    settings: GatewaySettings
    nc: NatsClient
    js: JetStreamContext
    blobs: BlobStore
    tasks: TaskService
    hub: Hub
    keys: ApiKeys
    store: InvoiceStore
    health: Health
    blob_readers: BlobReaders
    pages: PageRenderer


def gateway_of(app: ASGIApp | FastAPI) -> Gateway:
    found = getattr(getattr(app, "state", None), "gateway", None)
    if not isinstance(found, Gateway):
        raise RuntimeError("the gateway is not started (lifespan did not run)")
    return found


async def gateway(request: Request) -> Gateway:
    """FastAPI dependency (async: a plain `def` would be run in a worker thread)."""
    return gateway_of(request.app)
