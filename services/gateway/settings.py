"""Gateway settings: built once in `__main__` (or a test) and passed in, never read globally."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.egress.hosts import AllowedHosts
from services.messaging.settings import NatsSettings
from services.pages.render import DocumentLimits

MB = 1024 * 1024

DEFAULT_CORS_ORIGINS: tuple[str, ...] = (
    "http://localhost:8000",
    "http://127.0.0.1:8000",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:3000",
    "http://127.0.0.1:3000",
)


class GatewaySettings(NatsSettings):
    # An empty variable is a value here (`INVOICEFLOW_API_KEYS=` is "no keys").
    model_config = SettingsConfigDict(env_ignore_empty=False)

    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=0, le=65535)
    # Base of `blob_url`; unset: the base URL of the request that uploaded the file.
    public_url: str | None = None
    # Browser origins allowed for CORS and the /ws handshake ("*" allows any).
    cors_origins: Annotated[tuple[str, ...], NoDecode] = DEFAULT_CORS_ORIGINS
    max_file_bytes: int = Field(default=10 * MB, ge=1)
    max_batch_files: int = Field(default=20, ge=1)
    # API key -> tenant; empty: the API is open (single tenant).
    api_keys: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    # Frames a socket may have waiting; a client further behind is closed (1013).
    ws_send_queue: int = Field(default=1024, ge=1)
    # A blob reader that takes no chunk within this many seconds is dropped.
    blob_send_timeout_seconds: float = Field(default=30.0, gt=0)
    # Blob readers served at once by one gateway; beyond: 503 too_many_blob_reads.
    blob_max_readers: int = Field(default=64, ge=1)
    # How deep any JSON the gateway reads may nest: HTTP bodies, /ws frames, Socket.IO packets.
    json_max_depth: int = Field(default=32, ge=2, le=256)
    # Tasks one socket may follow at once.
    ws_max_tasks: int = Field(default=1000, ge=1)
    # A followed task silent this long has its stored last update checked (a live message lost
    # on a cluster failover), and again each period while it stays silent.
    ws_silence_seconds: float = Field(default=5.0, gt=0)
    # Decode limits for rendering a saved document's pages: the extractor's settings of the same
    # names (set both alike; the extractor accepted every saved document within its own).
    max_pages: int = Field(default=DocumentLimits.max_pages, ge=1)
    max_image_pixels: int = Field(default=DocumentLimits.max_image_pixels, ge=1)
    # Pages rendered at once by one gateway (each in a decode process of its own, within
    # `page_render_seconds`), how many more may wait (beyond: 503 too_many_page_renders), and
    # the cache of rendered pages.
    page_renders: int = Field(default=1, ge=1)
    page_render_seconds: float = Field(default=30.0, gt=0)
    # Each render process's heap cap. Measured with the largest image allowed (40 MP): a PNG
    # renders within 512 MiB, a WebP needs 640-768; PDF pages at 1600 px far less. Whatever the
    # extractor accepted must render here, hence twice that.
    page_render_memory_mb: int = Field(default=1024, ge=0)
    page_render_queue: int = Field(default=32, ge=0)
    page_cache_mb: int = Field(default=64, ge=0)
    # How long a saved-invoice request waits for the invoice store (the persister).
    store_timeout_seconds: float = Field(default=10.0, gt=0)
    # Webhook URLs obey the host policy of blob URLs (the extractor's setting of the same name).
    fetch_allowed_hosts: AllowedHosts = ()
    # On SIGTERM: stop accepting, tell sockets to reconnect elsewhere, finish open requests.
    drain_seconds: float = Field(default=5.0, ge=0)
    access_log: bool = False

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().rstrip("/")
            return value or None  # compose passes `${VAR:-}` as ""
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return tuple(
                str(origin).strip().rstrip("/").lower() for origin in value if str(origin).strip()
            )
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _api_keys(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        keys: dict[str, str] = {}
        for entry in value.split(","):
            if not entry.strip():
                continue
            key, sep, tenant = entry.strip().partition(":")
            if not sep or not key.strip() or not tenant.strip():
                raise ValueError("INVOICEFLOW_API_KEYS entries look like key:tenant")
            keys[key.strip()] = tenant.strip()
        return keys
