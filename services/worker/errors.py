"""Errors a stage raises to say how its task should fail, or that it must wait."""

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


class DependencyUnavailableError(Exception):
    """Something the step needs does not answer (PostgreSQL, the model endpoint, NATS).

    Not the document's fault, so not the task's: the work waits and is tried again, without
    spending a delivery, until the dependency is back; the replica is not ready meanwhile.
    """

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message)
        self.dependency = dependency
        self.message = message
