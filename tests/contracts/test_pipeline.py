"""The pipeline table: consistent with itself and with the spec's stage table (section 3)."""

from __future__ import annotations

import itertools
from pathlib import Path

from contracts import ExtractInvoice, Stage, streams
from contracts.pipeline import (
    COMPLETE,
    COMPLETION,
    EXTRACT,
    FIRST_STEP,
    PERSIST,
    PIPELINE,
    VALIDATE,
    hands_over,
    step_for_command,
    step_for_subject,
    step_named,
)
from tests.persister.samples import persist_command
from tests.validator.samples import validate_command


def test_every_stage_is_reported_by_one_step_in_order() -> None:
    spans = [span for step in PIPELINE for span in step.stages]
    assert [span.stage for span in spans] == [s for s in Stage if s is not Stage.COMPLETE]
    assert COMPLETION.stage is Stage.COMPLETE and COMPLETION.start == COMPLETION.end == 100


def test_progress_ranges_follow_each_other() -> None:
    spans = [span for step in PIPELINE for span in step.stages]
    assert all(span.start < span.end for span in spans)
    assert all(a.end == b.start for a, b in itertools.pairwise(spans))
    assert spans[-1].end < COMPLETION.start


def test_steps_hand_over_to_steps_that_exist_and_the_last_completes() -> None:
    names = {step.name for step in PIPELINE}
    for step in PIPELINE:
        assert set(step.then) <= names | {COMPLETE}
    assert PIPELINE[-1].then == (COMPLETE,)
    assert FIRST_STEP is EXTRACT and EXTRACT.command is ExtractInvoice


def test_lookups() -> None:
    assert step_named("validate") is VALIDATE
    assert step_for_subject("invoices.persist") is PERSIST
    assert step_for_command(validate_command(auto_save=True)) is VALIDATE
    assert hands_over(VALIDATE, persist_command())
    assert not hands_over(EXTRACT, persist_command())


def test_the_work_stream_carries_every_step() -> None:
    assert streams.WORK.subjects == tuple(step.subject for step in PIPELINE)


def test_a_progress_value_is_kept_inside_its_stage() -> None:
    span = EXTRACT.span(Stage.LLM_EXTRACTION)
    assert [span.inside(v) for v in (0, 10, 40, 80, 99)] == [11, 11, 40, 79, 79]


# --- the docs say what the table says ---------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
TABLE_START = "<!-- pipeline-table: generated from contracts/pipeline.py -->"
TABLE_END = "<!-- /pipeline-table -->"


def pipeline_table() -> str:
    rows = [
        "| step | subject | consumer | command | stages (progress) | then |",
        "|---|---|---|---|---|---|",
    ]
    for step in PIPELINE:
        stages = ", ".join(f"`{s.stage}` {s.start}–{s.end}" for s in step.stages)
        then = " or ".join(f"`{name}`" for name in step.then)
        rows.append(
            f"| `{step.name}` | `{step.subject}` | `{step.consumer}` "
            f"| `{step.command.__name__}` | {stages} | {then} |"
        )
    rows.append(f"| | | | | `{COMPLETION.stage}` {COMPLETION.start} | |")
    return "\n".join(rows)


def test_the_architecture_doc_shows_the_table() -> None:
    doc = (REPO / "docs" / "architecture.md").read_text()
    shown = doc.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    assert shown == pipeline_table(), "paste this into docs/architecture.md:\n" + pipeline_table()


def test_the_readme_diagram_follows_the_table() -> None:
    readme = (REPO / "README.md").read_text()
    diagram = readme.split("```mermaid", 1)[1].split("```", 1)[0]
    positions = [diagram.find(f'"{step.subject}') for step in PIPELINE]
    assert -1 not in positions and positions == sorted(positions)


def test_the_protocol_doc_has_the_stage_ranges() -> None:
    doc = (REPO / "docs" / "protocol.md").read_text()
    for step in PIPELINE:
        for span in step.stages:
            assert f"| `{span.stage}` | {span.start}–{span.end} |" in doc
    assert f"| `{COMPLETION.stage}` | {COMPLETION.start} |" in doc
