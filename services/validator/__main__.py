"""`python -m services.validator`: run the validator until SIGINT/SIGTERM."""

from __future__ import annotations

from services.process import configure_logging, run
from services.validator.app import build_worker
from services.validator.settings import ValidatorSettings


def main() -> None:
    settings = ValidatorSettings()
    configure_logging(settings.log_level)
    run(build_worker(settings).serve())


if __name__ == "__main__":
    main()
