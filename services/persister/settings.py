"""Persister settings: the shared worker settings plus the PostgreSQL connection."""

from __future__ import annotations

from pydantic import AliasChoices, Field, model_validator

from services.egress.hosts import AllowedHosts
from services.worker.settings import WorkerSettings


class PersisterSettings(WorkerSettings):
    """Read from the environment (`DATABASE_URL`, `INVOICEFLOW_*`) once, at start-up."""

    # asyncpg DSN, e.g. postgresql://user:pass@host/db or postgresql://postgres:@/postgres?host=/tmp
    # (extra query parameters such as `search_path=...` become server settings).
    database_url: str = Field(
        validation_alias=AliasChoices("DATABASE_URL", "INVOICEFLOW_DATABASE_URL"),
    )
    db_pool_min_size: int = Field(default=1, ge=0)
    db_pool_max_size: int = Field(default=10, ge=1)
    db_command_timeout_seconds: float = Field(default=30.0, gt=0)
    # How long a review waits for the validator to re-check the corrected invoice.
    rules_timeout_seconds: float = Field(default=10.0, gt=0)
    metrics_port: int = Field(default=9103, ge=0, le=65535)

    # Webhooks (docs/webhooks.md): URLs obey the same host policy as the extractor's blob URLs,
    # checked again at every attempt.
    fetch_allowed_hosts: AllowedHosts = ()
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # The n-th retry waits base * 2**(n-1) s (at most max), less up to half of it as jitter,
    # until retry_hours after the event.
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_hours: float = Field(default=24.0, ge=24.0)
    # Deliveries one replica attempts at once.
    webhook_max_in_flight: int = Field(default=32, ge=1)

    @model_validator(mode="after")
    def _pool_bounds(self) -> PersisterSettings:
        if self.db_pool_min_size > self.db_pool_max_size:
            raise ValueError("db_pool_min_size must not exceed db_pool_max_size")
        return self
