"""The e2e stack fixtures, for the suite's whole-stack test."""

from __future__ import annotations

from tests.e2e.conftest import fake_model, fresh_database, make_stack, model_url

__all__ = ["fake_model", "fresh_database", "make_stack", "model_url"]
