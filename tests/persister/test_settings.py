"""Persister settings come from the environment, with the pool bounds checked."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.persister.settings import PersisterSettings


def test_database_url_and_pool_sizes_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/invoices")
    monkeypatch.setenv("INVOICEFLOW_DB_POOL_MAX_SIZE", "20")
    monkeypatch.setenv("NATS_URL", "nats://nats:4222")

    settings = PersisterSettings()

    assert settings.database_url == "postgresql://u:p@db/invoices"
    assert (settings.db_pool_min_size, settings.db_pool_max_size) == (1, 20)
    assert settings.nats_url == "nats://nats:4222"


def test_a_database_url_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("INVOICEFLOW_DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        PersisterSettings()


def test_the_pool_cannot_start_larger_than_it_may_grow() -> None:
    with pytest.raises(ValidationError, match="db_pool_min_size"):
        PersisterSettings(database_url="postgresql://db/x", db_pool_min_size=5, db_pool_max_size=2)


def test_webhook_settings_and_the_host_policy_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/invoices")
    monkeypatch.setenv("INVOICEFLOW_FETCH_ALLOWED_HOSTS", "Hooks.Example, *.erp.example")
    monkeypatch.setenv("INVOICEFLOW_WEBHOOK_RETRY_BASE_SECONDS", "0.5")

    settings = PersisterSettings()

    assert settings.fetch_allowed_hosts == ("hooks.example", "*.erp.example")
    assert settings.webhook_retry_base_seconds == 0.5
    assert (settings.webhook_timeout_seconds, settings.webhook_retry_hours) == (10.0, 24.0)


def test_webhooks_are_retried_for_at_least_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/invoices")
    monkeypatch.setenv("INVOICEFLOW_WEBHOOK_RETRY_HOURS", "1")
    with pytest.raises(ValidationError, match="webhook_retry_hours"):
        PersisterSettings()
