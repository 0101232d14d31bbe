"""Settings every worker shares; each service's own settings subclass these."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    # Empty variables count as unset: compose passes `${OPENAI_BASE_URL:-}` as "".
    model_config = SettingsConfigDict(
        env_prefix="INVOICEFLOW_", extra="ignore", env_ignore_empty=True
    )

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL", "INVOICEFLOW_NATS_URL"),
    )
    ack_wait_seconds: float = Field(default=30.0, gt=0)
    max_deliver: int = Field(default=5, ge=1)
    # Delay before the n-th redelivery after a failure (the last value repeats).
    retry_backoff_seconds: tuple[float, ...] = (1.0, 2.0, 5.0, 15.0)
    progress_retention_hours: float = Field(default=168.0, ge=24.0)
    max_in_flight: int = Field(default=16, ge=1)
    log_level: str = "INFO"
