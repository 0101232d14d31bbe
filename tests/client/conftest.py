"""The SDK and CLI tests: fast ones on fakes, and e2e ones on the whole stack (its fixtures)."""

from __future__ import annotations

from tests.e2e.conftest import make_stack, model_url  # noqa: F401
