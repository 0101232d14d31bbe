"""Traces: one trace from the HTTP request through every step, carried in NATS headers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from services.telemetry.tracing import tracing_requested
from tests.telemetry.trace_probe import TRACEPARENT

REPO = Path(__file__).resolve().parents[2]


def test_one_trace_spans_gateway_extractor_validator_persister(
    nats_url: str, schema_dsn: str
) -> None:
    probe = subprocess.run(
        [sys.executable, "-m", "tests.telemetry.trace_probe", nats_url, schema_dsn],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    lines = [json.loads(line) for line in probe.stdout.splitlines() if line.startswith("{")]
    assert lines[0] == {"status": "completed"}
    spans = lines[1:]
    caller = TRACEPARENT.split("-")[1]
    names = {span["name"] for span in spans if span["trace_id"] == caller}
    # The request, each step, each stage, the model call and the SQL: all in the caller's trace.
    assert {"POST /api/invoices", "extract", "validate", "persist"} <= names
    assert {"fetch", "llm_extraction", "validation", "save"} <= names
    assert {"model call", "sql: save invoice"} <= names


def test_tracing_is_off_unless_an_endpoint_is_configured() -> None:
    assert not tracing_requested({})
    assert tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not tracing_requested(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}
    )
    assert not tracing_requested(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "x", "OTEL_TRACES_EXPORTER": "none"}
    )
