"""What the SDK raises: one base class, `InvoiceflowError`, and a subclass per kind of failure."""

from __future__ import annotations

from typing import Any

import httpx


class InvoiceflowError(Exception):
    """An error the gateway answered with (`{"error": {"code", "message"}}`), or one of the SDK's.

    `status` is the HTTP status when there was one, else `None`; `code` is snake_case.
    """

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status is not None else ""
        return f"{prefix}{self.code}: {self.message}"

    @classmethod
    def from_response(cls, response: httpx.Response) -> InvoiceflowError:
        """The error a non-2xx answer stands for; tolerates bodies that are not the usual JSON."""
        code, message = "http_error", ""
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code") or code)
            message = str(error.get("message") or "")
        if not message:
            text = response.text.strip().splitlines()
            detail = f": {text[0][:200]}" if text else ""
            message = f"{response.reason_phrase or 'HTTP error'}{detail}"
        return cls(response.status_code, code, message)


class GatewayUnreachable(InvoiceflowError):
    """No answer from the gateway: connection refused, DNS failure, a timeout, a dropped link."""

    def __init__(self, url: str, reason: str) -> None:
        message = f"cannot reach the gateway at {url}: {reason}"
        super().__init__(None, "gateway_unreachable", message)
        self.url = url
        self.reason = reason


class InvalidInput(InvoiceflowError):
    """The caller's input was refused before anything was sent (a missing file, say)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(None, code, message)


class TaskFailed(InvoiceflowError):
    """`wait()` on a task that ended with an `error` update; `final` is its last status."""

    def __init__(self, task_id: str, code: str, message: str, final: dict[str, Any]) -> None:
        super().__init__(None, code, f"task {task_id} failed: {message}")
        self.task_id = task_id
        self.final = final


class WaitTimeout(InvoiceflowError, TimeoutError):
    """`wait(timeout=…)` ran out before the task ended."""

    def __init__(self, task_id: str, timeout: float) -> None:
        super().__init__(None, "wait_timeout", f"task {task_id} not finished after {timeout:g} s")
        self.task_id = task_id
