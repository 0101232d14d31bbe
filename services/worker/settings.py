"""Settings every worker shares; each service's own settings subclass these."""

from __future__ import annotations

from pydantic import Field

from services.messaging.settings import NatsSettings


class WorkerSettings(NatsSettings):
    ack_wait_seconds: float = Field(default=30.0, gt=0)
    max_deliver: int = Field(default=5, ge=1)
    # Delay before the n-th redelivery after a failure (the last value repeats).
    retry_backoff_seconds: tuple[float, ...] = (1.0, 2.0, 5.0, 15.0)
    max_in_flight: int = Field(default=16, ge=1)
    # `/healthz`, `/readyz` and `/metrics` of this replica (0: any free port, for tests).
    metrics_port: int = Field(default=9100, ge=0, le=65535)
    # On SIGTERM: stop pulling, and give in-flight work this long before it is handed back.
    drain_seconds: float = Field(default=20.0, ge=0)
