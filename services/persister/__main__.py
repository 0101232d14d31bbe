"""`python -m services.persister`: migrate the database, then save invoices until SIGINT/SIGTERM."""

from __future__ import annotations

from services.persister.app import build_worker
from services.persister.settings import PersisterSettings
from services.process import run
from services.telemetry.logs import configure_logging
from services.telemetry.tracing import configure_tracing


def main() -> None:
    settings = PersisterSettings()
    configure_logging(settings.log_level, settings.log_format, "persister")
    configure_tracing("persister")
    run(build_worker(settings).serve())


if __name__ == "__main__":
    main()
