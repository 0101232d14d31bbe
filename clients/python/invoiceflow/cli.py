"""The `invoiceflow` command: submit invoices and watch them, read statuses and saved invoices,
run the development stack."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from invoiceflow.client import DEFAULT_URL, AsyncClient
from invoiceflow.errors import GatewayUnreachable, InvalidInput, InvoiceflowError
from invoiceflow.models import Json, Options
from invoiceflow.progress import watch_all
from invoiceflow.render import (
    accepted_table,
    invoices_table,
    status_table,
    summary_table,
    tasks_document,
    to_json,
)

OK, TASK_FAILED, USAGE, UNREACHABLE, HTTP_ERROR = 0, 1, 2, 3, 4
INTERRUPTED = 130
PROG = "invoiceflow"

EXIT_CODES = f"""\
exit codes:
  {OK}  success
  {TASK_FAILED}  a task ended with an error (submit --watch, status)
  {USAGE}  bad usage or input (unknown option, missing or unreadable file)
  {UNREACHABLE}  the gateway cannot be reached (connection refused, no answer in time)
  {HTTP_ERROR}  the gateway answered with an error (4xx/5xx, e.g. 415 unsupported type)

environment: INVOICEFLOW_URL (default {DEFAULT_URL}), INVOICEFLOW_API_KEY
"""

STATUSES = ("valid", "needs_review", "invalid", "approved", "rejected")


class UsageError(Exception):
    """Bad input found after parsing; exit code 2."""


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("INVOICEFLOW_URL") or DEFAULT_URL,
        help="the gateway (default: $INVOICEFLOW_URL or %(default)s)",
    )
    common.add_argument(
        "--api-key",
        default=os.environ.get("INVOICEFLOW_API_KEY") or None,
        help="API key sent as a Bearer token (default: $INVOICEFLOW_API_KEY)",
    )
    common.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout, nothing else"
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Turn invoices into structured data with an invoiceflow gateway.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    submit = commands.add_parser(
        "submit",
        parents=[common],
        help="upload files and start a task for each",
        description=(
            "Upload invoices (PDF, PNG, JPEG, WebP, TIFF, e-invoice XML) and start a task for each."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    submit.add_argument("files", nargs="+", metavar="FILE", type=Path)
    submit.add_argument(
        "--watch", action="store_true", help="follow the tasks with live progress until they end"
    )
    submit.add_argument("--provider", choices=("local", "openai"), help="extraction provider")
    submit.add_argument("--model", help="model name for the openai provider")
    submit.add_argument(
        "--no-save", action="store_true", help="do not save the invoices (auto_save=false)"
    )
    submit.add_argument(
        "--threshold",
        type=_threshold,
        metavar="X",
        help="confidence threshold 0–1 below which a field needs review",
    )

    status = commands.add_parser(
        "status",
        parents=[common],
        help="show a task's status",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument("task", metavar="TASK", help="a task id (task_…)")
    status.add_argument("--token", help="the task's token (needed by some gateways)")

    invoices = commands.add_parser(
        "invoices",
        parents=[common],
        help="list saved invoices, newest first",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    invoices.add_argument("--status", choices=STATUSES, help="only invoices with this status")
    invoices.add_argument("--vendor", help="vendor name prefix (case-insensitive)")
    invoices.add_argument("--date-from", metavar="YYYY-MM-DD", help="invoice date from")
    invoices.add_argument("--date-to", metavar="YYYY-MM-DD", help="invoice date up to")
    invoices.add_argument(
        "--limit", type=_positive, default=50, metavar="N", help="at most N (default %(default)s)"
    )

    export = commands.add_parser(
        "export",
        parents=[common],
        help="write every matching saved invoice to stdout as CSV or JSON Lines",
        description="Export saved invoices: `invoiceflow export --format csv --status approved "
        "> approved.csv`. Streams; the file is complete only when the exit code is 0.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="file format")
    export.add_argument("--status", choices=STATUSES, help="only invoices with this status")
    export.add_argument("--vendor", help="vendor name prefix (case-insensitive)")
    export.add_argument("--date-from", metavar="YYYY-MM-DD", help="invoice date from")
    export.add_argument("--date-to", metavar="YYYY-MM-DD", help="invoice date up to")
    duplicates = export.add_mutually_exclusive_group()
    duplicates.add_argument(
        "--duplicates", dest="duplicate", action="store_const", const=True, help="only duplicates"
    )
    duplicates.add_argument(
        "--no-duplicates", dest="duplicate", action="store_const", const=False, help="no duplicates"
    )

    commands.add_parser(
        "dev",
        add_help=False,
        help="run the whole stack locally, as `make dev` (needs a source checkout); "
        "arguments go to `python -m deploy.devstack` (try `invoiceflow dev --help`)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(args_list)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USAGE
    if args.command == "dev":
        return run_dev(extra)
    if extra:
        parser.print_usage(sys.stderr)
        error(f"unrecognized arguments: {' '.join(extra)}")
        return USAGE
    try:
        return asyncio.run(dispatch(args))
    except KeyboardInterrupt:
        error("interrupted")
        return INTERRUPTED
    except BaseException as exc:  # one line, never a traceback
        return report(_unwrap(exc), args.url)


def _unwrap(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def report(exc: BaseException, url: str) -> int:
    """The exit code for an error, with its one-line message on stderr."""
    if isinstance(exc, SystemExit):
        raise exc
    if isinstance(exc, KeyboardInterrupt):
        error("interrupted")
        return INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        # The reader left (`invoiceflow invoices | head`): nothing to say, and nothing more to
        # flush to it at exit either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    if isinstance(exc, UsageError | InvalidInput):
        error(exc.message if isinstance(exc, InvalidInput) else str(exc))
        return USAGE
    if isinstance(exc, GatewayUnreachable):
        error(f"{exc.message} — is it running? (`invoiceflow dev` starts one; --url sets another)")
        return UNREACHABLE
    if isinstance(exc, InvoiceflowError):
        status = f" {exc.status}" if exc.status is not None else ""
        error(f"the gateway at {url} answered{status} {exc.code}: {exc.message}")
        return HTTP_ERROR
    error(f"unexpected {type(exc).__name__}: {exc}")
    return HTTP_ERROR


def error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def info(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        auto_save=False if args.no_save else None,
        confidence_threshold=args.threshold,
        model_provider=args.provider,
        model=args.model,
    )


async def dispatch(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    async with AsyncClient(args.url, args.api_key) as client:
        if args.command == "submit":
            return await submit(client, args, console)
        if args.command == "status":
            return await show_status(client, args, console)
        if args.command == "export":
            return await export_invoices(client, args)
        return await list_invoices(client, args, console)


async def submit(client: AsyncClient, args: argparse.Namespace, console: Console) -> int:
    tasks = await client.submit(args.files, options_from(args))
    if not args.watch:
        if args.json:
            print(to_json(tasks_document(tasks)))
        else:
            console.print(accepted_table(tasks))
            info(f"follow one with `{PROG} status TASK`, or submit with --watch")
        return OK
    finals = await watch_all(client, tasks, console, show=not args.json)
    failed = [final for final in finals if final.get("status") != "completed"]
    if args.json:
        print(to_json({"tasks": finals}))
    else:
        console.print(summary_table(finals))
    if failed:
        info(f"{len(failed)} of {len(finals)} task(s) failed")
        return TASK_FAILED
    return OK


async def show_status(client: AsyncClient, args: argparse.Namespace, console: Console) -> int:
    status: Json = await client.request(
        "GET",
        f"/api/invoices/status/{args.task}",
        params={"token": args.token} if args.token else {},
    )
    if args.json:
        print(to_json(status))
    else:
        console.print(status_table(status))
    return TASK_FAILED if status.get("status") == "error" else OK


async def list_invoices(client: AsyncClient, args: argparse.Namespace, console: Console) -> int:
    items = [
        item
        async for item in client.invoices(
            status=args.status,
            vendor=args.vendor,
            date_from=args.date_from,
            date_to=args.date_to,
            limit=args.limit,
        )
    ]
    if args.json:
        print(to_json({"items": items}))
    else:
        console.print(invoices_table(items))
    return OK


async def export_invoices(client: AsyncClient, args: argparse.Namespace) -> int:
    out = sys.stdout.buffer
    async for chunk in client.export(
        args.format,
        status=args.status,
        vendor=args.vendor,
        date_from=args.date_from,
        date_to=args.date_to,
        duplicate=args.duplicate,
    ):
        out.write(chunk)
    out.flush()
    return OK


def devstack_available() -> bool:
    """`deploy.devstack` importable here, or a source checkout in the current directory."""
    try:
        if importlib.util.find_spec("deploy.devstack") is not None:
            return True
    except (ImportError, ValueError):
        pass
    return (Path.cwd() / "deploy" / "devstack.py").is_file()


def run_dev(extra: Sequence[str]) -> int:
    if not devstack_available():
        error(
            "`invoiceflow dev` needs a source checkout of invoiceflow: run it from the "
            "repository's root (where deploy/devstack.py is), or use `make dev` there"
        )
        return USAGE
    command = [sys.executable, "-m", "deploy.devstack", *extra]
    proc = subprocess.Popen(command)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue  # the stack got Ctrl-C too and is shutting down: wait for it


if __name__ == "__main__":
    raise SystemExit(main())
