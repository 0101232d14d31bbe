"""The JS client's tests: its unit tests, and its integration test on the whole stack."""

from __future__ import annotations

from tests.e2e.conftest import make_stack, model_url  # noqa: F401
