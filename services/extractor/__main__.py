"""`python -m services.extractor`: run the extract stage until SIGINT/SIGTERM."""

from __future__ import annotations

import logging

from services.extractor.app import build_worker
from services.extractor.settings import ExtractorSettings
from services.process import run
from services.telemetry.logs import configure_logging
from services.telemetry.tracing import configure_tracing

# HTTP clients that log every request at INFO: one line per LLM call is noise, and costs CPU.
_CHATTY_LOGGERS = ("httpx", "httpx2", "httpcore", "openai")


def main() -> None:
    settings = ExtractorSettings()
    configure_logging(settings.log_level, settings.log_format, "extractor")
    configure_tracing("extractor")
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    run(build_worker(settings).serve())


if __name__ == "__main__":
    main()
