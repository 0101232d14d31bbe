"""Logs as JSON lines carry the service, the replica, the task and the trace."""

from __future__ import annotations

import json
import logging

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from services.telemetry.logs import TASK_ID, JsonFormatter, replica_name


def test_a_json_line_names_service_replica_task_and_trace() -> None:
    record = logging.LogRecord(
        "services.x", logging.WARNING, __file__, 1, "saved %s", ("it",), None
    )
    span = TracerProvider().get_tracer("t").start_span("work")
    token = TASK_ID.set("task_" + "a" * 32)
    try:
        with trace.use_span(span, end_on_exit=True):
            line = json.loads(JsonFormatter("persister").format(record))
    finally:
        TASK_ID.reset(token)

    assert line["message"] == "saved it" and line["level"] == "WARNING"
    assert line["service"] == "persister" and line["replica"] == replica_name()
    assert line["task_id"] == "task_" + "a" * 32
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_outside_a_task_the_fields_are_null() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "idle", (), None)

    line = json.loads(JsonFormatter("gateway").format(record))

    assert line["task_id"] is None and line["trace_id"] is None
