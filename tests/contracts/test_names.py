from __future__ import annotations

import pytest

from contracts import names, progress_subject, streams


def test_progress_subject_is_per_task() -> None:
    assert progress_subject("task_" + "a" * 32) == "invoices.progress.task_" + "a" * 32


def test_task_ids_look_like_the_spec() -> None:
    assert names.is_task_id("task_" + "0123456789abcdef" * 2)
    assert not names.is_task_id("task_xyz")
    assert not names.is_task_id("task_" + "A" * 32)


def test_work_subjects_are_the_specs() -> None:
    assert set(streams.WORK.subjects) == {
        "invoices.extract",
        "invoices.validate",
        "invoices.persist",
    }
    assert streams.WORK.retention == "workqueue"


def test_progress_is_kept_at_least_a_day() -> None:
    assert streams.progress_stream().max_age_seconds >= 24 * 3600
    with pytest.raises(ValueError, match="24 h"):
        streams.progress_stream(3600)
