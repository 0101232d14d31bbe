"""The module boundaries the design rests on, checked on the source (imports, statically)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SERVICES = ("gateway", "extractor", "validator", "persister")

# Stage logic: handlers and the modules that do a step's work. They know nothing of NATS;
# what talks to NATS is an adapter (`adapters.py`, `app.py`, services/messaging, the runtime).
STAGE_LOGIC = (
    "services.extractor.pipeline",
    "services.extractor.documents",
    "services.pages.render",
    "services.pages.tiff",
    "services.pages.decode_pool",
    "services.extractor.fetch",
    "services.extractor.grounding",
    "services.extractor.llm_schema",
    "services.extractor.local_provider",
    "services.extractor.ocr",
    "services.extractor.openai_provider",
    "services.extractor.provider",
    "services.extractor.receipt_parser",
    "services.extractor.receipt_rows",
    "services.extractor.receipt_text",
    "services.extractor.receipt_candidates",
    "services.extractor.receipt_ranker",
    "services.extractor.cache",
    "services.validator.pipeline",
    "services.validator.rules",
    "services.validator.identifiers",
    "services.persister.pipeline",
    "services.persister.reviews",
    "services.persister.corrections",
    "services.persister.duplicates",
    "services.persister.paging",
    "services.persister.repository",
    "services.persister.answers",
    "services.persister.webhook_answers",
    "services.persister.webhook_delivery",
    "services.persister.webhook_events",
    "services.persister.webhook_registry",
    "services.persister.webhook_store",
    "services.egress.hosts",
    "services.egress.post",
    "services.worker.handler",
    "services.worker.report",
    "services.worker.outcomes",
    "services.messaging.progress_log",
)
BROKER_PACKAGES = ("nats", "faststream")


def module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imports_of(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            # `from services.x import y` may name the module services.x.y
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def closure(module: str) -> set[str]:
    """Every module `module` imports, directly or through the project's own modules."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        path = module_file(current)
        if path is None:
            continue
        for imported in imports_of(path):
            if imported not in seen:
                seen.add(imported)
                if imported.split(".")[0] in ("services", "contracts"):
                    todo.append(imported)
    return seen


@pytest.mark.parametrize("module", STAGE_LOGIC)
def test_stage_logic_knows_nothing_of_nats(module: str) -> None:
    assert module_file(module) is not None, f"{module} moved: update this list"
    brokers = {m for m in closure(module) if m.split(".")[0] in BROKER_PACKAGES}
    assert brokers == set(), f"{module} reaches {sorted(brokers)}"


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another(service: str) -> None:
    others = {f"services.{name}" for name in SERVICES if name != service}
    for path in (REPO / "services" / service).rglob("*.py"):
        found = {m for m in imports_of(path) if ".".join(m.split(".")[:2]) in others}
        assert found == set(), f"{path.relative_to(REPO)} imports {sorted(found)}"


def test_bench_imports_nothing_from_the_tests() -> None:
    for path in (REPO / "bench").rglob("*.py"):
        found = {m for m in imports_of(path) if m.split(".")[0] == "tests"}
        assert found == set(), f"{path.relative_to(REPO)} imports {sorted(found)}"
