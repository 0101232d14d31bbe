"""`python -m services.validator`: run the validator until SIGINT/SIGTERM."""

from __future__ import annotations

from services.process import run
from services.telemetry.logs import configure_logging
from services.telemetry.tracing import configure_tracing
from services.validator.app import build_worker
from services.validator.settings import ValidatorSettings


def main() -> None:
    settings = ValidatorSettings()
    configure_logging(settings.log_level, settings.log_format, "validator")
    configure_tracing("validator")
    run(build_worker(settings).serve())


if __name__ == "__main__":
    main()
