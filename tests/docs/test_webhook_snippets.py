"""docs/webhooks.md: both verification snippets accept what the persister signs, and nothing
else (a changed body, another secret, an old timestamp, a malformed header)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from services.persister.webhook_delivery import signature
from tests.docs.snippets import python_verifier, snippet

SECRET = "whsec_test-secret"
BODY = json.dumps({"id": "evt_1", "type": "task.completed", "data": {"€": "193.00"}}).encode()
NODE = shutil.which("node")


def cases(now: int) -> list[tuple[str, str, bytes, bool]]:
    """(secret, header, body, valid)."""
    good = signature(SECRET, now, BODY)
    return [
        (SECRET, good, BODY, True),
        (SECRET, good, BODY + b" ", False),
        ("whsec_other", good, BODY, False),
        (SECRET, signature(SECRET, now - 3600, BODY), BODY, False),
        (SECRET, good.replace("v1=", "v1=0"), BODY, False),
        (SECRET, "v1=" + good.split("v1=")[1], BODY, False),
        (SECRET, "garbage", BODY, False),
    ]


def test_the_python_snippet_verifies_exactly_what_is_signed() -> None:
    verify = python_verifier()
    for secret, header, body, valid in cases(int(time.time())):
        assert verify(secret, header, body) is valid, (secret, header, body)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_javascript_snippet_verifies_exactly_what_is_signed(tmp_path: Path) -> None:
    checks = [
        {"secret": s, "header": h, "body": b.decode(), "valid": v}
        for s, h, b, v in cases(int(time.time()))
    ]
    script = tmp_path / "verify.cjs"
    script.write_text(
        snippet("javascript")
        + f"\nconst checks = {json.dumps(checks)};\n"
        + "const got = checks.map(\n"
        + "  (c) => verifySignature(c.secret, c.header, Buffer.from(c.body)));\n"
        + "console.log(JSON.stringify(got));\n"
    )
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(script)], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [check["valid"] for check in checks]
