"""The `invoiceflow` command against the whole stack: `--json` parsed, `--watch` in a pty."""

from __future__ import annotations

import asyncio
import csv
import fcntl
import io
import json
import os
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from testkit.stack import Stack
from tests.client.test_cli import invoiceflow_command, run_cli
from tests.e2e.documents import invoice_png, text_pdf

pytestmark = pytest.mark.e2e

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>]")


def run_in_pty(argv: Sequence[str], timeout: float) -> tuple[int, str]:
    """Run with a pseudo-terminal as stdin/stdout/stderr; (exit code, all output, ANSI stripped).

    Reads until the child closes the terminal (EIO/EOF) or `timeout` passes."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        list(argv), stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                proc.kill()
                raise TimeoutError(b"".join(chunks).decode(errors="replace")[-2000:])
            ready, _, _ = select.select([master], [], [], remaining)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every end of the terminal's slave side is closed
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
    return code, ANSI.sub("", b"".join(chunks).decode(errors="replace"))


def documents(tmp_path: Path) -> list[Path]:
    png, pdf = tmp_path / "cli-invoice.png", tmp_path / "cli-invoice.pdf"
    png.write_bytes(invoice_png("cli"))
    pdf.write_bytes(text_pdf())
    return [png, pdf]


async def test_submit_json_output_parses(
    make_stack: Callable[..., Stack], model_url: str, tmp_path: Path
) -> None:
    stack = make_stack(model_url)
    files = [str(path) for path in documents(tmp_path)]

    accepted = await asyncio.to_thread(run_cli, "submit", *files, "--json", "--url", stack.base_url)
    assert accepted.returncode == 0, accepted.stderr
    tasks = json.loads(accepted.stdout)["tasks"]
    assert [task["filename"] for task in tasks] == ["cli-invoice.png", "cli-invoice.pdf"]
    assert all(task["task_id"].startswith("task_") and task["token"] for task in tasks)

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really an image" * 10)
    watched = await asyncio.to_thread(
        run_cli, "submit", *files, str(broken), "--watch", "--json", "--no-save",
        "--url", stack.base_url, timeout=180,
    )  # fmt: skip
    finals = json.loads(watched.stdout)["tasks"]
    by_name = {final["filename"]: final for final in finals}
    assert [final["filename"] for final in finals] == [
        "cli-invoice.png", "cli-invoice.pdf", "broken.png"
    ]  # fmt: skip
    for name in ("cli-invoice.png", "cli-invoice.pdf"):
        assert by_name[name]["status"] == "completed"
        assert by_name[name]["result"]["invoice"]["total"] == "193.00"
        assert by_name[name]["result"]["saved"] is False
    assert by_name["broken.png"]["status"] == "error" and by_name["broken.png"]["error"]["code"]
    assert watched.returncode == 1, watched.stderr
    assert "1 of 3 task(s) failed" in watched.stderr

    status = await asyncio.to_thread(
        run_cli, "status", tasks[0]["task_id"], "--json", "--url", stack.base_url
    )
    assert status.returncode == 0 and json.loads(status.stdout)["task_id"] == tasks[0]["task_id"]


async def test_submit_watch_in_a_terminal_shows_live_progress(
    make_stack: Callable[..., Stack], model_url: str, tmp_path: Path
) -> None:
    stack = make_stack(model_url)
    files = documents(tmp_path)
    argv = [*invoiceflow_command(), "submit", *map(str, files), "--watch", "--url", stack.base_url]
    code, output = await asyncio.to_thread(run_in_pty, argv, 180)
    assert code == 0, output
    lines = output.replace("\r", "\n").splitlines()
    for path in files:
        assert any(path.name in line and "100%" in line for line in lines), output
    assert "results" in output and "ACME" in output and "193.00" in output

    listed = await asyncio.to_thread(run_cli, "invoices", "--json", "--url", stack.base_url)
    assert listed.returncode == 0, listed.stderr
    names = {item["filename"] for item in json.loads(listed.stdout)["items"]}
    assert names == {path.name for path in files}

    exported = await asyncio.to_thread(
        run_cli, "export", "--format", "csv", "--url", stack.base_url
    )
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout, newline="")))
    assert {row["vendor_name"] for row in rows} >= {"ACME GmbH"} and len(rows) == len(files)
