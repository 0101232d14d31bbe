"""The command line without a stack: parsing, output, error messages and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import invoiceflow.cli as cli  # noqa: PLR0402  mypy finds the submodule only this way
import pytest
from invoiceflow import AsyncClient, Options
from invoiceflow.render import summary_row

from deploy.embedded import free_port
from tests.client.fakes import Recorder, error_body


def invoiceflow_command() -> list[str]:
    """The installed console script, else `python -m invoiceflow`."""
    script = Path(sys.executable).with_name("invoiceflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "invoiceflow"]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*invoiceflow_command(), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def fake_gateway(monkeypatch: pytest.MonkeyPatch, recorder: Recorder) -> None:
    """Make the CLI's client talk to `recorder` instead of the network."""

    def client(base_url: str, api_key: str | None) -> AsyncClient:
        return AsyncClient(base_url, api_key, transport=recorder.transport())

    monkeypatch.setattr(cli, "AsyncClient", client)


def test_submit_options_are_parsed(tmp_path: Path) -> None:
    args = cli.build_parser().parse_args(
        ["submit", "a.pdf", "b.png", "--watch", "--json", "--provider", "local",
         "--model", "m", "--no-save", "--threshold", "0.6", "--url", "http://x:1"]
    )  # fmt: skip
    assert args.files == [Path("a.pdf"), Path("b.png")] and args.watch and args.json
    assert args.url == "http://x:1"
    assert cli.options_from(args) == Options(
        auto_save=False, confidence_threshold=0.6, model_provider="local", model="m"
    )
    plain = cli.build_parser().parse_args(["submit", "a.pdf"])
    assert cli.options_from(plain).to_json() == {}


def test_url_and_key_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICEFLOW_URL", "http://gw:9")
    monkeypatch.setenv("INVOICEFLOW_API_KEY", "secret")
    args = cli.build_parser().parse_args(["invoices"])
    assert (args.url, args.api_key, args.limit) == ("http://gw:9", "secret", 50)


@pytest.mark.parametrize(
    "argv",
    [
        ["submit"],
        ["submit", "a.pdf", "--threshold", "1.5"],
        ["submit", "a.pdf", "--provider", "other"],
        ["invoices", "--limit", "0"],
        ["invoices", "--status", "weird"],
        ["status", "task_x", "--bogus"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == cli.USAGE
    assert "error" in capsys.readouterr().err


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for line in ("0  success", "1  a task ended", "2  bad usage", "3  the gateway cannot", "4  "):
        assert line in out


def test_a_missing_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.pdf"
    assert cli.main(["submit", str(missing), "--url", "http://127.0.0.1:1"]) == cli.USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"invoiceflow: error: file not found: {missing}\n"


def test_an_unreachable_gateway_exits_3_naming_the_url(tmp_path: Path) -> None:
    document = tmp_path / "a.pdf"
    document.write_bytes(b"%PDF-1.4")
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["submit", str(document)], ["invoices"], ["status", "task_x", "--json"]):
        result = run_cli(*args, "--url", url)
        assert result.returncode == cli.UNREACHABLE, result
        assert result.stdout == ""
        assert url in result.stderr and "connection refused" in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_an_http_error_exits_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "notes.txt"
    document.write_text("hello")
    fake_gateway(monkeypatch, Recorder(lambda r: error_body(415, "unsupported_media_type", "no")))
    assert cli.main(["submit", str(document), "--url", "http://gw"]) == cli.HTTP_ERROR
    err = capsys.readouterr().err
    assert (
        err
        == "invoiceflow: error: the gateway at http://gw answered 415 unsupported_media_type: no\n"
    )


def test_submit_json_prints_only_the_accepted_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "a.pdf"
    document.write_bytes(b"%PDF-1.4")
    task = {"task_id": "task_1", "token": "t", "filename": "a.pdf", "status": "pending"}
    fake_gateway(monkeypatch, Recorder(lambda r: httpx.Response(202, json={"tasks": [task]})))
    assert cli.main(["submit", str(document), "--json"]) == cli.OK
    out = json.loads(capsys.readouterr().out)
    assert out == {"tasks": [{"task_id": "task_1", "token": "t", "filename": "a.pdf"}]}


def test_invoices_table_and_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    item = {
        "invoice_id": "inv_1", "invoice_date": "2024-03-15", "vendor_name": "ACME GmbH",
        "invoice_number": "INV-1001", "total": "193.00", "currency": "EUR",
        "status": "valid", "filename": "a.png",
    }  # fmt: skip
    recorder = Recorder(lambda r: httpx.Response(200, json={"items": [item], "next_cursor": None}))
    fake_gateway(monkeypatch, recorder)
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["invoices", "--vendor", "acme", "--limit", "5"]) == cli.OK
    table = capsys.readouterr().out
    for cell in ("inv_1", "ACME GmbH", "INV-1001", "193.00", "EUR", "valid"):
        assert cell in table
    assert cli.main(["invoices", "--json"]) == cli.OK
    assert json.loads(capsys.readouterr().out) == {"items": [item]}
    assert recorder.requests[0].url.params["vendor"] == "acme"
    assert recorder.requests[0].url.params["limit"] == "5"


def test_status_of_a_failed_task_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status = {
        "task_id": "task_1", "filename": "a.pdf", "status": "error", "stage": "fetch",
        "progress": 5, "message": "failed", "result": None,
        "error": {"code": "corrupt_document", "message": "cannot read it"}, "updated_at": "x",
    }  # fmt: skip
    fake_gateway(monkeypatch, Recorder(lambda r: httpx.Response(200, json=status)))
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["status", "task_1"]) == cli.TASK_FAILED
    assert "corrupt_document: cannot read it" in capsys.readouterr().out
    assert cli.main(["status", "task_1", "--json"]) == cli.TASK_FAILED
    assert json.loads(capsys.readouterr().out) == status


def test_summary_rows() -> None:
    completed: dict[str, Any] = {
        "filename": "a.png",
        "status": "completed",
        "result": {
            "invoice": {
                "vendor": {"name": "ACME GmbH"}, "invoice_number": "INV-1001",
                "invoice_date": "2024-03-15", "total": "193.00", "currency": "EUR",
            },
            "validation": {"status": "valid", "issues": []},
            "saved": True, "invoice_id": "inv_1", "duplicate_of": None,
        },
    }  # fmt: skip
    assert summary_row(completed) == [
        "a.png", "completed", "ACME GmbH", "INV-1001", "2024-03-15", "193.00", "EUR", "valid",
        "saved as inv_1",
    ]  # fmt: skip
    failed = {"filename": "b.pdf", "status": "error", "error": {"code": "ocr_failed",
              "message": "no text"}, "result": None}  # fmt: skip
    assert summary_row(failed) == [
        "b.pdf", "error", "", "", "", "", "", "", "ocr_failed: no text"
    ]  # fmt: skip


def test_dev_without_a_source_checkout_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("invoiceflow.cli.importlib.util.find_spec", lambda name: None)
    assert cli.main(["dev"]) == cli.USAGE
    assert "needs a source checkout" in capsys.readouterr().err


def test_dev_passes_its_arguments_to_the_devstack(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []

    class Proc:
        def __init__(self, command: list[str]) -> None:
            started.append(command)

        def wait(self) -> int:
            return 0

    monkeypatch.setattr("invoiceflow.cli.subprocess.Popen", Proc)
    assert cli.main(["dev", "--port", "9000", "--data", "/tmp/d"]) == 0
    assert started == [
        [sys.executable, "-m", "deploy.devstack", "--port", "9000", "--data", "/tmp/d"]
    ]


def test_python_dash_m_invoiceflow_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "invoiceflow", "--help"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "submit" in result.stdout


def test_export_writes_the_body_to_stdout(
    monkeypatch: pytest.MonkeyPatch, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    body = b"invoice_id,status\r\ninv_1,approved\r\n"
    recorder = Recorder(lambda r: httpx.Response(200, content=body))
    fake_gateway(monkeypatch, recorder)
    argv = ["export", "--format", "csv", "--status", "approved", "--no-duplicates"]
    assert cli.main(argv) == cli.OK
    assert capfdbinary.readouterr().out == body
    params = recorder.requests[0].url.params
    assert (recorder.requests[0].url.path, params["format"]) == ("/api/invoices/export", "csv")
    assert (params["status"], params["duplicate"]) == ("approved", "false")


def test_a_refused_export_exits_4_with_nothing_on_stdout(
    monkeypatch: pytest.MonkeyPatch, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    answer = error_body(422, "validation_error", "date_from: not a date")
    fake_gateway(monkeypatch, Recorder(lambda r: answer))
    assert cli.main(["export", "--date-from", "soon"]) == cli.HTTP_ERROR
    captured = capfdbinary.readouterr()
    assert captured.out == b"" and b"422 validation_error" in captured.err
