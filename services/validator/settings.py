"""Validator settings: the shared worker settings; the rules themselves need none."""

from __future__ import annotations

from pydantic import Field

from services.worker.settings import WorkerSettings


class ValidatorSettings(WorkerSettings):
    """Read from the environment (`INVOICEFLOW_*`, `NATS_URL`) once, at start-up."""

    metrics_port: int = Field(default=9102, ge=0, le=65535)
