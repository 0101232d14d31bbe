"""`Client`: the blocking face of `AsyncClient`, for scripts. It runs its own event loop, so
it cannot be used from inside a running one (use `AsyncClient` there)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from invoiceflow.client import DEFAULT_URL, AsyncClient, DateLike, PathLike, TaskRef
from invoiceflow.models import InvoicePage, Json, OptionsLike, Task
from invoiceflow.watch import DEFAULT_BACKOFF, Backoff

T = TypeVar("T")


class Client:
    """`with Client(url) as client: tasks = client.submit(["a.pdf"]); client.wait(tasks[0])`.

    Same methods and errors as `AsyncClient`; iterators (`watch`, `invoices`) are plain ones.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        timeout: float = 60.0,
        *,
        max_batch_files: int = 20,
        backoff: Backoff = DEFAULT_BACKOFF,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._runner = asyncio.Runner()
        self._async = AsyncClient(
            base_url,
            api_key,
            timeout,
            max_batch_files=max_batch_files,
            backoff=backoff,
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return self._async.base_url

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._run(self._async.aclose())
        finally:
            self._runner.close()

    def _run(self, awaitable: Awaitable[T]) -> T:
        async def run() -> T:
            return await awaitable

        return self._runner.run(run())

    def _iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._run(anext(iterator))
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                self._run(aclose())

    def health(self) -> Json:
        return self._run(self._async.health())

    def submit(self, paths: Iterable[PathLike], options: OptionsLike = None) -> list[Task]:
        return self._run(self._async.submit(paths, options))

    def status(self, task: TaskRef) -> Json:
        return self._run(self._async.status(task))

    def watch(self, task: Task, after_seq: int = 0) -> Iterator[Json]:
        return self._iterate(self._async.watch(task, after_seq))

    def wait(
        self,
        task: Task,
        timeout: float | None = None,
        *,
        raise_on_error: bool = True,
        on_update: Callable[[Json], None] | None = None,
    ) -> Json:
        return self._run(
            self._async.wait(task, timeout, raise_on_error=raise_on_error, on_update=on_update)
        )

    def invoices_page(self, **filters: Any) -> InvoicePage:
        return self._run(self._async.invoices_page(**filters))

    def invoices(
        self,
        *,
        status: str | None = None,
        vendor: str | None = None,
        date_from: DateLike | None = None,
        date_to: DateLike | None = None,
        duplicate: bool | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> Iterator[Json]:
        return self._iterate(
            self._async.invoices(
                status=status,
                vendor=vendor,
                date_from=date_from,
                date_to=date_to,
                duplicate=duplicate,
                limit=limit,
                page_size=page_size,
            )
        )

    def invoice(self, invoice_id: str) -> Json:
        return self._run(self._async.invoice(invoice_id))

    def review(
        self,
        invoice_id: str,
        decision: str,
        reviewer: str,
        corrections: Mapping[str, Any] | None = None,
        *,
        note: str | None = None,
        expected_version: int | None = None,
    ) -> Json:
        return self._run(
            self._async.review(
                invoice_id,
                decision,
                reviewer,
                corrections,
                note=note,
                expected_version=expected_version,
            )
        )
