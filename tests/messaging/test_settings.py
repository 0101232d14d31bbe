"""What every service reads alike: a server list in NATS_URL, and the replicas of what they
declare (INVOICEFLOW_STREAM_REPLICAS)."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from services.extractor.settings import ExtractorSettings
from services.gateway.settings import GatewaySettings
from services.messaging.settings import NatsSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("INVOICEFLOW_") or name == "NATS_URL":
            monkeypatch.delenv(name)


def test_one_server_by_default() -> None:
    settings = NatsSettings()
    assert settings.nats_servers == ["nats://127.0.0.1:4222"]
    assert settings.stream_replicas == 1


def test_a_comma_separated_list_is_a_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://a:4222, nats://b:4222,,nats://c:4222 ,")
    monkeypatch.setenv("INVOICEFLOW_STREAM_REPLICAS", "3")

    for settings in (NatsSettings(), GatewaySettings(), ExtractorSettings()):
        assert settings.nats_servers == ["nats://a:4222", "nats://b:4222", "nats://c:4222"]
        assert settings.stream_replicas == 3


@pytest.mark.parametrize("replicas", ["0", "6"])
def test_replicas_are_what_jetstream_allows(monkeypatch: pytest.MonkeyPatch, replicas: str) -> None:
    monkeypatch.setenv("INVOICEFLOW_STREAM_REPLICAS", replicas)
    with pytest.raises(ValidationError):
        NatsSettings()
