"""The persister and the contracts know nothing of HTTP: the gateway alone turns the store's
error codes into statuses (services/gateway/store_errors.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("services/persister", "contracts")
HTTP_MODULES = frozenset({"http", "fastapi", "starlette", "httpx"})


def sources() -> list[Path]:
    found = [path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))]
    assert len(found) > 10  # the packages are where this test looks for them
    return found


def imported_modules(node: ast.AST) -> list[tuple[int, str]]:
    if isinstance(node, ast.Import):
        return [(node.lineno, alias.name) for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [(node.lineno, node.module)]
    return []


@pytest.mark.parametrize("path", sources(), ids=lambda path: str(path.relative_to(REPO)))
def test_no_http_status_and_no_http_library(path: Path) -> None:
    nodes = list(ast.walk(ast.parse(path.read_text(), filename=str(path))))
    # Any integer that could be an HTTP error status: simple, robust, and none is needed here.
    statuses = [
        f"line {node.lineno}: {node.value}"
        for node in nodes
        if isinstance(node, ast.Constant) and type(node.value) is int and 400 <= node.value <= 599
    ]
    libraries = [
        f"line {line}: {module}"
        for node in nodes
        for line, module in imported_modules(node)
        if module.split(".")[0] in HTTP_MODULES
    ]
    assert statuses == [], "HTTP statuses belong to the gateway"
    assert libraries == [], "HTTP libraries belong to the gateway"
