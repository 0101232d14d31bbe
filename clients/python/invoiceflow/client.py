"""`AsyncClient`: the gateway's HTTP API and WebSocket progress, from the public contract only."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import mimetypes
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from invoiceflow.errors import (
    GatewayUnreachable,
    InvalidInput,
    InvoiceflowError,
    TaskFailed,
    WaitTimeout,
)
from invoiceflow.models import (
    FINAL_STATUSES,
    InvoicePage,
    Json,
    OptionsLike,
    Task,
    is_terminal,
    options_json,
)
from invoiceflow.watch import DEFAULT_BACKOFF, Backoff, watch_task, ws_url

DEFAULT_URL = "http://localhost:8000"
MAX_BATCH_FILES = 20  # the gateway's default per-request limit
MAX_PAGE_SIZE = 200

PathLike = str | os.PathLike[str]
TaskRef = Task | str
DateLike = dt.date | str


class AsyncClient:
    """An invoiceflow gateway. Use as `async with AsyncClient(url) as client: …`.

    `api_key` is sent as `Authorization: Bearer <key>` on HTTP calls and on the WebSocket
    handshake. `timeout` bounds each HTTP call (uploads included). `max_batch_files` is the
    gateway's per-request file limit: `submit` splits longer lists into several requests.
    `backoff` governs how a watch reconnects after a dropped connection.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        timeout: float = 60.0,
        *,
        max_batch_files: int = MAX_BATCH_FILES,
        backoff: Backoff = DEFAULT_BACKOFF,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.max_batch_files = max(1, max_batch_files)
        self.backoff = backoff
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._headers,
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- HTTP ---------------------------------------------------------------------------------

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call to the gateway: the decoded JSON body, or an `InvoiceflowError`."""
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise GatewayUnreachable(self.base_url, _reason(exc)) from None
        if response.is_error:
            raise InvoiceflowError.from_response(response)
        try:
            return response.json()
        except ValueError:
            raise InvoiceflowError(
                response.status_code, "bad_response", f"{method} {path} did not answer JSON"
            ) from None

    async def health(self) -> Json:
        body: Json = await self.request("GET", "/api/health")
        return body

    async def submit(self, paths: Iterable[PathLike], options: OptionsLike = None) -> list[Task]:
        """Upload the files and start a task for each (`POST /api/invoices`), in order.

        Every file is checked first (exists, is a regular file, readable), so a bad path fails
        with `InvalidInput` before anything is sent. More files than `max_batch_files` go in
        several requests; the tasks come back in the order of `paths`.
        """
        files = [Path(path) for path in paths]
        if not files:
            raise InvalidInput("no_files", "no files to submit")
        contents = [_read(path) for path in files]
        form = {"options": json.dumps(options_json(options))}
        tasks: list[Task] = []
        for start in range(0, len(files), self.max_batch_files):
            chunk = range(start, min(start + self.max_batch_files, len(files)))
            upload = [("file", (files[i].name, contents[i], _mime(files[i]))) for i in chunk]
            body = await self.request("POST", "/api/invoices", files=upload, data=form)
            tasks.extend(Task.from_json(item) for item in body["tasks"])
        return tasks

    async def status(self, task: TaskRef) -> Json:
        """`GET /api/invoices/status/{task_id}` (with the task's token when given a `Task`)."""
        task_id, params = _task_id(task), {}
        if isinstance(task, Task):
            params["token"] = task.token
        body: Json = await self.request("GET", f"/api/invoices/status/{task_id}", params=params)
        return body

    def watch(self, task: Task, after_seq: int = 0) -> AsyncIterator[Json]:
        """The task's `task_update` data with `seq > after_seq`, each exactly once and in order,
        ending after the terminal update (`type` `complete` or `error`).

        A dropped connection is re-opened with backoff and the task re-joined with the last
        `seq` seen, so nothing is lost or repeated. Raises `GatewayUnreachable` after
        `backoff.give_up_after` seconds without a connection, `InvoiceflowError` when the
        gateway refuses the join (`invalid_token`, `task_not_found`, …).
        """
        return watch_task(
            ws_url(self.base_url),
            task,
            headers=self._headers,
            after_seq=after_seq,
            backoff=self.backoff,
        )

    async def wait(
        self,
        task: Task,
        timeout: float | None = None,
        *,
        raise_on_error: bool = True,
        on_update: Callable[[Json], None] | None = None,
    ) -> Json:
        """Watch the task to its end and return its final status (the status endpoint's body,
        with `result` for a completed task).

        Raises `TaskFailed` (its `final` holds the status) when the task ended with an error,
        unless `raise_on_error=False`; `WaitTimeout` when `timeout` seconds pass first.
        `on_update` is called with every update on the way.
        """
        try:
            final = await asyncio.wait_for(self._finish(task, on_update), timeout)
        except TimeoutError:
            raise WaitTimeout(task.task_id, timeout or 0.0) from None
        if raise_on_error and final.get("status") == "error":
            error = final.get("error") or {}
            raise TaskFailed(
                task.task_id,
                str(error.get("code") or "task_error"),
                str(error.get("message") or "the task failed"),
                final,
            )
        return final

    async def _finish(self, task: Task, on_update: Callable[[Json], None] | None) -> Json:
        last: Json = {}
        async for update in self.watch(task):
            last = update
            if on_update is not None:
                on_update(update)
        final = await self.status(task)
        if final.get("status") not in FINAL_STATUSES and is_terminal(last):
            # The status endpoint has not caught up with the update just seen: use the update.
            final = final_from_update(final, last)
        return final

    # -- saved invoices -----------------------------------------------------------------------

    async def invoices_page(
        self,
        *,
        status: str | None = None,
        vendor: str | None = None,
        date_from: DateLike | None = None,
        date_to: DateLike | None = None,
        duplicate: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> InvoicePage:
        """One page of `GET /api/invoices`, newest first (`limit` 1–200, by default 50)."""
        params: dict[str, str | int] = {**_filters(status, vendor, date_from, date_to, duplicate)}
        if cursor is not None:
            params["cursor"] = cursor
        if limit is not None:
            params["limit"] = limit
        body = await self.request("GET", "/api/invoices", params=params)
        return InvoicePage(list(body.get("items") or []), body.get("next_cursor"))

    async def invoices(
        self,
        *,
        status: str | None = None,
        vendor: str | None = None,
        date_from: DateLike | None = None,
        date_to: DateLike | None = None,
        duplicate: bool | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Json]:
        """Every saved invoice matching the filters, newest first, following `next_cursor`
        page after page; at most `limit` of them when given."""
        cursor: str | None = None
        remaining = limit
        while remaining is None or remaining > 0:
            size = min(page_size, MAX_PAGE_SIZE, remaining or MAX_PAGE_SIZE)
            page = await self.invoices_page(
                status=status,
                vendor=vendor,
                date_from=date_from,
                date_to=date_to,
                duplicate=duplicate,
                limit=size,
                cursor=cursor,
            )
            for item in page.items[:remaining]:
                yield item
            if remaining is not None:
                remaining -= min(len(page.items), remaining)
            if not page.next_cursor or not page.items:
                return
            cursor = page.next_cursor

    async def export(
        self,
        export_format: str = "csv",
        *,
        status: str | None = None,
        vendor: str | None = None,
        date_from: DateLike | None = None,
        date_to: DateLike | None = None,
        duplicate: bool | None = None,
    ) -> AsyncIterator[bytes]:
        """`GET /api/invoices/export`: every matching invoice as CSV or JSON Lines, the body's
        bytes as they arrive. A transfer cut short raises `GatewayUnreachable`, so a partial file
        is never mistaken for a whole one."""
        params = _filters(status, vendor, date_from, date_to, duplicate)
        params["format"] = export_format
        try:
            async with self._http.stream("GET", "/api/invoices/export", params=params) as answer:
                if answer.is_error:
                    await answer.aread()
                    raise InvoiceflowError.from_response(answer)
                async for chunk in answer.aiter_bytes():
                    yield chunk
        except httpx.TransportError as exc:
            raise GatewayUnreachable(self.base_url, _reason(exc)) from None

    async def invoice(self, invoice_id: str) -> Json:
        """`GET /api/invoices/{invoice_id}`: one saved invoice, whole."""
        body: Json = await self.request("GET", f"/api/invoices/{invoice_id}")
        return body

    async def review(
        self,
        invoice_id: str,
        decision: str,
        reviewer: str,
        corrections: Mapping[str, Any] | None = None,
        *,
        note: str | None = None,
        expected_version: int | None = None,
    ) -> Json:
        """`POST /api/invoices/{invoice_id}/review` (`decision` is `approve` or `reject`);
        returns the invoice as stored after the review."""
        payload: Json = {"decision": decision, "reviewer": reviewer}
        if corrections is not None:
            payload["corrections"] = dict(corrections)
        if note is not None:
            payload["note"] = note
        if expected_version is not None:
            payload["expected_version"] = expected_version
        body: Json = await self.request("POST", f"/api/invoices/{invoice_id}/review", json=payload)
        return body


def final_from_update(status: Mapping[str, Any], update: Mapping[str, Any]) -> Json:
    """A final status built from a terminal `task_update` (for a status that lags behind)."""
    final = dict(status)
    final.update(
        status="completed" if update.get("type") == "complete" else "error",
        stage=update.get("stage"),
        progress=update.get("progress"),
        message=update.get("message"),
        result=update.get("result"),
        error=update.get("error"),
    )
    return final


def _filters(
    status: str | None,
    vendor: str | None,
    date_from: DateLike | None,
    date_to: DateLike | None,
    duplicate: bool | None,
) -> dict[str, str]:
    """The list filters as query parameters, unset ones left out."""
    params: dict[str, str] = {}
    for key, value in (
        ("status", status),
        ("vendor", vendor),
        ("date_from", date_from),
        ("date_to", date_to),
    ):
        if value is not None:
            params[key] = value.isoformat() if isinstance(value, dt.date) else value
    if duplicate is not None:
        params["duplicate"] = "true" if duplicate else "false"
    return params


def _task_id(task: TaskRef) -> str:
    return task.task_id if isinstance(task, Task) else task


def _read(path: Path) -> bytes:
    if not path.exists():
        raise InvalidInput("file_not_found", f"file not found: {path}")
    if not path.is_file():
        raise InvalidInput("not_a_file", f"not a regular file: {path}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput("file_unreadable", f"cannot read {path}: {exc.strerror}") from None


def _mime(path: Path) -> str:
    # Only a hint: the gateway decides by the content (magic bytes).
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"unknown host ({cause.strerror})"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})" if str(exc) else "cannot connect"
    return str(exc) or type(exc).__name__


__all__: Sequence[str] = ("DEFAULT_URL", "AsyncClient", "final_from_update")
