"""Extractor settings from the environment, as docker-compose and `make dev` pass them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.extractor.settings import MODEL_IN_FLIGHT, ExtractorSettings


def test_openai_variables_use_the_sdk_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8100/v1")
    monkeypatch.setenv("INVOICEFLOW_OPENAI_MODEL", "llama3")

    settings = ExtractorSettings()

    assert settings.openai_api_key == "sk-test"
    assert settings.openai_base_url == "http://127.0.0.1:8100/v1"
    assert settings.openai_model == "llama3"


def test_blank_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # docker-compose's `${OPENAI_API_KEY:-}` passes an empty string.
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("OPENAI_BASE_URL", "  ")
    monkeypatch.setenv("INVOICEFLOW_PUBLIC_URL", "")

    settings = ExtractorSettings()

    assert settings.openai_api_key is None and settings.openai_base_url is None
    assert settings.public_url is None


def test_allowed_hosts_are_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICEFLOW_FETCH_ALLOWED_HOSTS", " Docs.Example.com, *.cdn.example ,")

    assert ExtractorSettings().fetch_allowed_hosts == ("docs.example.com", "*.cdn.example")


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "INVOICEFLOW_FETCH_ALLOWED_HOSTS"):
        monkeypatch.delenv(name, raising=False)

    settings = ExtractorSettings()

    assert settings.openai_api_key is None and settings.openai_model == "gpt-4o-mini"
    assert settings.openai_timeout_seconds == 60 and settings.openai_max_retries == 2
    assert settings.max_file_bytes == 10 * 1024 * 1024 and settings.max_pages == 10
    assert settings.fetch_allowed_hosts == () and settings.ocr_threads == 2


def test_a_replica_calls_the_model_for_every_message_it_holds_by_default() -> None:
    # Fewer model slots than messages in flight would split a batch into rounds of model
    # latency (10 files with a 2 s model: 4.2 s instead of 2.5 s with 8 slots).
    settings = ExtractorSettings()

    assert settings.openai_max_concurrency >= settings.max_in_flight >= 10


def test_with_a_model_a_replica_holds_more_messages_than_documents_it_keeps_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "OPENAI_API_KEY",
        "INVOICEFLOW_MAX_IN_FLIGHT",
        "INVOICEFLOW_OPENAI_MAX_CONCURRENCY",
    ):
        monkeypatch.delenv(name, raising=False)

    offline = ExtractorSettings()
    with_model = ExtractorSettings(openai_api_key="sk-test")
    monkeypatch.setenv("INVOICEFLOW_MAX_IN_FLIGHT", "8")
    pinned = ExtractorSettings(openai_api_key="sk-test")
    monkeypatch.setenv("INVOICEFLOW_OPENAI_MAX_CONCURRENCY", "4")
    rate_limited = ExtractorSettings(openai_api_key="sk-test")

    # OCR is CPU: offline, a replica takes what it can read soon, and KEDA places the rest.
    assert offline.max_in_flight == offline.openai_max_concurrency == offline.open_documents == 16
    # Waiting on a model holds a request, not pages: many at once, pages still bounded.
    assert with_model.max_in_flight == with_model.openai_max_concurrency == MODEL_IN_FLIGHT
    assert with_model.open_documents == 16 < MODEL_IN_FLIGHT
    assert pinned.max_in_flight == pinned.openai_max_concurrency == 8
    assert rate_limited.max_in_flight == 8 and rate_limited.openai_max_concurrency == 4


def test_the_decode_budget_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"PROCESSES": "3", "SECONDS": "12.5", "MAX_TASKS": "7", "MAX_RSS_MB": "512"}
    for name, value in {**values, "MEMORY_LIMIT_MB": "900"}.items():
        monkeypatch.setenv(f"INVOICEFLOW_DECODE_{name}", value)

    settings = ExtractorSettings()

    assert (settings.decode_processes, settings.decode_seconds) == (3, 12.5)
    assert (settings.decode_max_tasks, settings.decode_max_rss_mb) == (7, 512)
    assert settings.decode_memory_limit_mb == 900


def test_the_evidence_ocr_pass_is_auto_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVOICEFLOW_EVIDENCE_OCR", raising=False)
    assert ExtractorSettings().evidence_ocr == "auto"
    monkeypatch.setenv("INVOICEFLOW_EVIDENCE_OCR", "off")
    assert ExtractorSettings().evidence_ocr == "off"
    monkeypatch.setenv("INVOICEFLOW_EVIDENCE_OCR", "sometimes")
    with pytest.raises(ValidationError, match="evidence_ocr"):
        ExtractorSettings()
