"""`python -m services.gateway`: serve the gateway on INVOICEFLOW_HOST:INVOICEFLOW_PORT until
SIGTERM/SIGINT, then drain and exit 0."""

from __future__ import annotations

from services.gateway.app import create_app, server_config, stop_requested
from services.gateway.server import GatewayServer
from services.gateway.settings import GatewaySettings
from services.process import tune_gc
from services.telemetry.logs import configure_logging
from services.telemetry.tracing import configure_tracing


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_format, "gateway")
    configure_tracing("gateway")
    app = create_app(settings)
    server = GatewayServer(server_config(app, settings), on_exit=lambda: stop_requested(app))
    tune_gc()
    server.run()


if __name__ == "__main__":
    main()
