"""Persister settings: the shared worker settings plus the PostgreSQL connection."""

from __future__ import annotations

from pydantic import AliasChoices, Field, model_validator

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

    @model_validator(mode="after")
    def _pool_bounds(self) -> PersisterSettings:
        if self.db_pool_min_size > self.db_pool_max_size:
            raise ValueError("db_pool_min_size must not exceed db_pool_max_size")
        return self
