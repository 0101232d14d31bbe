"""What the command line prints: tables for people, one JSON document for programs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from invoiceflow.models import Json, Task

SUMMARY_COLUMNS = (
    "file", "status", "vendor", "number", "date", "total", "currency", "validation", "note",
)  # fmt: skip
INVOICE_COLUMNS = ("invoice", "date", "vendor", "number", "total", "currency", "status", "file")
STATUS_STYLES = {
    "completed": "green", "error": "red", "valid": "green", "needs_review": "yellow",
    "invalid": "red", "approved": "green", "rejected": "red",
}  # fmt: skip


def to_json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)


def tasks_document(tasks: Iterable[Task]) -> Json:
    return {"tasks": [task.to_json() for task in tasks]}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _styled(value: Any) -> Text:
    text = _text(value)
    return Text(text, style=STATUS_STYLES.get(text, ""))


def accepted_table(tasks: Sequence[Task]) -> Table:
    table = Table(title=f"{len(tasks)} task(s) accepted", title_justify="left")
    table.add_column("file")
    table.add_column("task")
    for task in tasks:
        table.add_row(task.filename, task.task_id)
    return table


def summary_row(final: Mapping[str, Any]) -> list[str]:
    """One finished task as the cells of `SUMMARY_COLUMNS`."""
    result = final.get("result") or {}
    invoice = result.get("invoice") or {}
    vendor = (invoice.get("vendor") or {}).get("name")
    validation = (result.get("validation") or {}).get("status")
    if final.get("status") == "error":
        error = final.get("error") or {}
        note = f"{error.get('code', 'error')}: {error.get('message', '')}".rstrip(": ")
    elif result.get("duplicate_of"):
        note = f"duplicate of {result['duplicate_of']}"
    elif result.get("invoice_id"):
        note = f"saved as {result['invoice_id']}"
    else:
        note = "not saved" if result else ""
    return [
        _text(final.get("filename")),
        _text(final.get("status")),
        _text(vendor),
        _text(invoice.get("invoice_number")),
        _text(invoice.get("invoice_date")),
        _text(invoice.get("total")),
        _text(invoice.get("currency")),
        _text(validation),
        note,
    ]


def summary_table(finals: Iterable[Mapping[str, Any]]) -> Table:
    table = Table(title="results", title_justify="left")
    for column in SUMMARY_COLUMNS:
        table.add_column(column, justify="right" if column == "total" else "left")
    for final in finals:
        cells = summary_row(final)
        table.add_row(*[_styled(cell) for cell in cells])
    return table


def invoice_row(item: Mapping[str, Any]) -> list[str]:
    return [
        _text(item.get("invoice_id")),
        _text(item.get("invoice_date")),
        _text(item.get("vendor_name")),
        _text(item.get("invoice_number")),
        _text(item.get("total")),
        _text(item.get("currency")),
        _text(item.get("status")),
        _text(item.get("filename")),
    ]


def invoices_table(items: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title=f"{len(items)} invoice(s)", title_justify="left")
    for column in INVOICE_COLUMNS:
        table.add_column(column, justify="right" if column == "total" else "left")
    for item in items:
        table.add_row(*[_styled(cell) for cell in invoice_row(item)])
    return table


def status_table(status: Mapping[str, Any]) -> Table:
    """`invoiceflow status`: the task's fields, then the extraction's headline when done."""
    table = Table(show_header=False, title=_text(status.get("task_id")), title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for key in ("filename", "status", "stage", "progress", "message", "updated_at"):
        table.add_row(key, _styled(status.get(key)))
    if status.get("error"):
        error = status["error"]
        table.add_row("error", Text(f"{error.get('code')}: {error.get('message')}", style="red"))
    if status.get("result"):
        row = summary_row(status)
        for key, value in zip(SUMMARY_COLUMNS, row, strict=True):
            if key not in ("file", "status") and value:
                table.add_row(key, _styled(value))
    return table
