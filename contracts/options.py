"""Per-task processing options (spec section 1)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Provider = Literal["local", "openai"]


class ProcessingOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_save: bool = True
    confidence_threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    # None: the extractor picks `openai` when it has an API key, else `local`.
    model_provider: Provider | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200)
