"""`invoiceflow submit --watch`: every task followed at once, one live progress bar per file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from invoiceflow.client import AsyncClient
from invoiceflow.models import Json, Task

MESSAGE_WIDTH = 48


def make_progress(console: Console, *, enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.fields[filename]}", style="bold"),
        TextColumn("{task.fields[stage]}", style="cyan"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[message]}"),
        console=console,
        disable=not enabled,
        transient=False,
    )


def _message(update: Json) -> str:
    if update.get("type") == "error":
        error = update.get("error") or {}
        text = f"[red]{error.get('code', 'error')}: {error.get('message', '')}[/red]"
        return text
    message = str(update.get("message") or "")
    return message if len(message) <= MESSAGE_WIDTH else message[: MESSAGE_WIDTH - 1] + "…"


async def watch_all(
    client: AsyncClient, tasks: Sequence[Task], console: Console, *, show: bool
) -> list[Json]:
    """Follow every task to its end (concurrently); their final statuses, in the tasks' order."""
    with make_progress(console, enabled=show) as progress:
        bars: dict[str, TaskID] = {
            task.task_id: progress.add_task(
                task.filename, total=100, filename=task.filename, stage="pending", message=""
            )
            for task in tasks
        }

        def updater(task: Task) -> Callable[[Json], None]:
            def update(data: Json) -> None:
                progress.update(
                    bars[task.task_id],
                    completed=float(data.get("progress") or 0),
                    stage=str(data.get("stage") or ""),
                    message=_message(data),
                )

            return update

        async with asyncio.TaskGroup() as group:
            running = [
                group.create_task(client.wait(task, raise_on_error=False, on_update=updater(task)))
                for task in tasks
            ]
        progress.refresh()
    return [job.result() for job in running]
