"""The pipeline table: consistent with itself and with the spec's stage table (section 3)."""

from __future__ import annotations

import itertools

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
