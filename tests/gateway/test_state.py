"""Handlers reach the running gateway through the app's state."""

from __future__ import annotations

import pytest

from services.gateway.app import create_app
from services.gateway.state import gateway_of
from tests.gateway.conftest import Running, make_settings


def test_a_gateway_that_never_started_says_so() -> None:
    app = create_app(make_settings("nats://127.0.0.1:1"))

    with pytest.raises(RuntimeError, match="not started"):
        gateway_of(app)


async def test_the_lifespan_builds_it_once(app: Running) -> None:
    gateway = gateway_of(app.app)

    assert gateway is app.gateway
    assert gateway.nc.is_connected
    assert gateway.settings.nats_url
