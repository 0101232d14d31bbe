"""Logs: the usual text lines, or one JSON object a line (`INVOICEFLOW_LOG_FORMAT=json`) with the
service, the replica, and the task and trace being worked on."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from contextvars import ContextVar

from services.telemetry.tracing import current_trace_id

# The task the current coroutine works on: set by the worker runtime and the gateway.
TASK_ID: ContextVar[str | None] = ContextVar("invoiceflow_task_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def replica_name() -> str:
    """The pod (Kubernetes sets HOSTNAME to its name) or host, and the process."""
    return f"{os.environ.get('HOSTNAME') or socket.gethostname()}:{os.getpid()}"


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service
        self._replica = replica_name()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self._service,
            "replica": self._replica,
            "task_id": TASK_ID.get(),
            "trace_id": current_trace_id(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, log_format: str = "text", service: str = "invoiceflow") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
