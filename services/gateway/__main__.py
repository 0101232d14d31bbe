"""`python -m services.gateway`: serve the gateway on INVOICEFLOW_HOST:INVOICEFLOW_PORT."""

from __future__ import annotations

import logging

import uvicorn

from services.gateway.app import create_app, server_config
from services.gateway.settings import GatewaySettings
from services.process import tune_gc


def main() -> None:
    settings = GatewaySettings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    server = uvicorn.Server(server_config(create_app(settings), settings))
    tune_gc()
    server.run()


if __name__ == "__main__":
    main()
