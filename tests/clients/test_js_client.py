"""Run the JS client's Node tests: the unit tests alone, and the integration test on a stack."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Callable

import pytest

from testkit.stack import REPO, Stack

CLIENT = REPO / "clients" / "js"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed (the JS client needs Node 20+)"),
    pytest.mark.skipif(
        not (CLIENT / "node_modules").is_dir(),
        reason="clients/js/node_modules is missing: run `npm ci` in clients/js",
    ),
]


def run_node(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> str:
    """Run node in the repository; fail the test with its output unless it exits 0."""
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--experimental-websocket", "--test", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"node --test exited with {done.returncode}:\n{output[-6000:]}"
    return output


def test_unit_tests_pass() -> None:
    # An empty INVOICEFLOW_URL: the integration tests skip themselves here.
    output = run_node("clients/js/test/", env={"INVOICEFLOW_URL": ""})
    assert "# fail 0" in output
    assert "# pass 0" not in output


def test_the_type_declarations_describe_a_frontends_use() -> None:
    # test/types-usage.ts uses the client as a TypeScript frontend would, with lines that must
    # stay type errors; `tsc` (a dev dependency) checks it against src/*.d.ts.
    done = subprocess.run(
        [str(CLIENT / "node_modules" / ".bin" / "tsc"), "-p", str(CLIENT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.e2e
async def test_integration_against_the_stack(
    make_stack: Callable[..., Stack],
    model_url: str,
) -> None:
    stack = make_stack(model_url)
    output = await asyncio.to_thread(
        run_node,
        "clients/js/test/integration.test.js",
        env={"INVOICEFLOW_URL": stack.base_url, "INVOICEFLOW_API_KEY": ""},
    )
    assert "# skipped 0" in output, output[-3000:]
    assert "# fail 0" in output
