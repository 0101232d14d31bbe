"""Errors a stage raises to say how its task should fail."""

from __future__ import annotations

from contracts import ErrorCode


class StageError(Exception):
    """A coded failure. `retryable` says whether another delivery could succeed."""

    retryable = True

    def __init__(self, code: ErrorCode | str, message: str) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message


class PermanentError(StageError):
    """Retrying cannot help (bad document, refusal): fail the task now."""

    retryable = False


class TransientError(StageError):
    """Another delivery may succeed (timeout, 5xx); fails the task once retries run out."""
