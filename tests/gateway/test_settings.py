"""Gateway settings from the environment."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from services.gateway.settings import DEFAULT_CORS_ORIGINS, GatewaySettings

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("INVOICEFLOW_") or name == "NATS_URL":
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = GatewaySettings()

    assert (settings.host, settings.port) == ("0.0.0.0", 8000)
    assert settings.public_url is None
    assert settings.max_file_bytes == 10 * MB
    assert settings.max_batch_files == 20
    assert settings.api_keys == {}
    assert settings.progress_retention_hours == 168
    assert settings.cors_origins == DEFAULT_CORS_ORIGINS
    assert "http://localhost:8000" in settings.cors_origins


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://nats:4222")
    monkeypatch.setenv("INVOICEFLOW_PORT", "9000")
    monkeypatch.setenv("INVOICEFLOW_PUBLIC_URL", "https://invoices.example.com/")
    monkeypatch.setenv("INVOICEFLOW_CORS_ORIGINS", "https://A.example.com/, http://b.test")
    monkeypatch.setenv("INVOICEFLOW_API_KEYS", "key1:tenant-a, key2:tenant-b")
    monkeypatch.setenv("INVOICEFLOW_WS_SEND_QUEUE", "16")

    settings = GatewaySettings()

    assert settings.nats_url == "nats://nats:4222"
    assert settings.port == 9000
    assert settings.public_url == "https://invoices.example.com"
    assert settings.cors_origins == ("https://a.example.com", "http://b.test")
    assert settings.api_keys == {"key1": "tenant-a", "key2": "tenant-b"}
    assert settings.ws_send_queue == 16


def test_blank_public_url_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICEFLOW_PUBLIC_URL", "")

    assert GatewaySettings().public_url is None


def test_malformed_api_keys_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICEFLOW_API_KEYS", "key-without-tenant")

    with pytest.raises(ValidationError):
        GatewaySettings()


def test_progress_is_kept_at_least_a_day() -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(progress_retention_hours=12)
