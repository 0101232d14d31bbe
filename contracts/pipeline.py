"""The pipeline, written down once: the one place the order of a task's work is declared.

A task is accepted by the gateway, which sends the first step's command. Each step is a work
subject in the `INVOICES_WORK` stream taken by one durable pull consumer, shared by every
replica of its service; it reports its stages at the progress given here, then hands the task to
the step its `then` names, with that step's command, or ends it (`COMPLETE`): the `complete`
update (progress 100) with the task's result. `EXTRACT`, `VALIDATE` and `PERSIST` below are the
whole of it; services read them and restate none of it (`docs/architecture.md` shows the same
table, checked by `tests/contracts/test_pipeline.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.messages import ExtractInvoice, PersistInvoice, StageCommand, ValidateInvoice
from contracts.progress import Stage

# What `then` names when a step may end the task instead of handing it on.
COMPLETE = "complete"


@dataclass(frozen=True, slots=True)
class StageSpan:
    """A stage and the progress at its `stage_start` and its `stage_complete`."""

    stage: Stage
    start: int
    end: int

    def inside(self, value: int) -> int:
        """`value` moved strictly between start and end: where a `progress` update may sit."""
        return min(max(value, self.start + 1), self.end - 1)


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    subject: str
    consumer: str
    command: type[StageCommand]
    stages: tuple[StageSpan, ...]
    # Names of the steps it may hand over to, and/or COMPLETE.
    then: tuple[str, ...]

    @property
    def first_stage(self) -> Stage:
        return self.stages[0].stage

    def span(self, stage: Stage) -> StageSpan:
        for span in self.stages:
            if span.stage is stage:
                return span
        raise ValueError(f"the {self.name} step does not report the {stage} stage")

    @property
    def completes(self) -> bool:
        return COMPLETE in self.then


EXTRACT = Step(
    name="extract",
    subject="invoices.extract",
    consumer="extractor",
    command=ExtractInvoice,
    stages=(StageSpan(Stage.FETCH, 5, 10), StageSpan(Stage.LLM_EXTRACTION, 10, 80)),
    then=("validate",),
)
VALIDATE = Step(
    name="validate",
    subject="invoices.validate",
    consumer="validator",
    command=ValidateInvoice,
    stages=(StageSpan(Stage.VALIDATION, 80, 90),),
    then=("persist", COMPLETE),
)
PERSIST = Step(
    name="persist",
    subject="invoices.persist",
    consumer="persister",
    command=PersistInvoice,
    stages=(StageSpan(Stage.SAVE, 90, 95),),
    then=(COMPLETE,),
)
COMPLETION = StageSpan(Stage.COMPLETE, 100, 100)

PIPELINE: tuple[Step, ...] = (EXTRACT, VALIDATE, PERSIST)
FIRST_STEP = EXTRACT

# Progress percentage at the start and end of each stage (spec section 3).
STAGE_PROGRESS: dict[Stage, tuple[int, int]] = {
    span.stage: (span.start, span.end)
    for span in (*(span for step in PIPELINE for span in step.stages), COMPLETION)
}

_BY_NAME = {step.name: step for step in PIPELINE}
_BY_SUBJECT = {step.subject: step for step in PIPELINE}
_BY_COMMAND = {step.command: step for step in PIPELINE}


def step_named(name: str) -> Step:
    return _BY_NAME[name]


def step_for_subject(subject: str) -> Step:
    return _BY_SUBJECT[subject]


def step_for_command(command: StageCommand) -> Step:
    """The step a command starts: what its type says (`ValidateInvoice` → validate)."""
    return _BY_COMMAND[type(command)]


def hands_over(step: Step, command: StageCommand) -> bool:
    """Whether the table lets `step` hand its task on with `command`."""
    return step_for_command(command).name in step.then
