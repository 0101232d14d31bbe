"""What every service reads alike: where NATS is, how JetStream keeps what they declare, and
how they log. Each service's settings subclass these (`WorkerSettings`, `GatewaySettings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NatsSettings(BaseSettings):
    # Empty variables count as unset: compose passes `${OPENAI_BASE_URL:-}` as "".
    model_config = SettingsConfigDict(
        env_prefix="INVOICEFLOW_", extra="ignore", env_ignore_empty=True, populate_by_name=True
    )

    # One server or several, comma-separated (a cluster): `nats://a:4222,nats://b:4222`.
    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL", "INVOICEFLOW_NATS_URL"),
    )
    # Replicas of every stream, KV bucket and object store the services create (3 on a
    # three-node JetStream cluster); existing ones are updated where JetStream allows.
    stream_replicas: int = Field(default=1, ge=1, le=5)
    progress_retention_hours: float = Field(default=168.0, ge=24.0)
    log_level: str = "INFO"
    # `json`: one JSON object a line, with task_id, trace_id, service and replica.
    log_format: Literal["text", "json"] = "text"

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]
