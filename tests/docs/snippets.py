"""The signature-verification snippets of docs/webhooks.md, as the docs print them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"

Verify = Callable[[str, str, bytes], bool]


def snippet(language: str) -> str:
    """The one fenced block of `language` in the verification section."""
    section = DOC.read_text().split("## Verifying the signature", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)
    return str(code)


def python_verifier() -> Verify:
    """`verify_signature` as defined by the Python snippet."""
    namespace: dict[str, object] = {}
    exec(compile(snippet("python"), str(DOC), "exec"), namespace)
    verify = namespace["verify_signature"]
    assert callable(verify)
    return verify  # type: ignore[return-value]
