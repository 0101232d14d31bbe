"""FastAPI dependencies every route module shares: the running gateway and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.auth import Caller
from services.gateway.state import Gateway, gateway, gateway_of

GatewayDep = Annotated[Gateway, Depends(gateway)]


async def authenticate(request: Request) -> Caller:
    # async: FastAPI would run a plain `def` dependency in a worker thread, per request.
    return gateway_of(request.app).keys.caller(request.headers.get("authorization"))


CallerDep = Annotated[Caller, Depends(authenticate)]
