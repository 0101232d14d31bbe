"""The py-spy stack summary: samples go to the innermost frame's library."""

from __future__ import annotations

import pytest

from bench.stacks import library_of, summarise


@pytest.mark.parametrize(
    ("path", "library"),
    [
        ("nats/js/client.py", "nats"),
        ("/srv/.venv/lib/python3.11/site-packages/pydantic/main.py", "pydantic"),
        ("services/gateway/hub.py", "services.gateway"),
        ("/work/repo/services/worker/runner.py", "services.worker"),
        ("/usr/lib/python3.11/asyncio/events.py", "asyncio"),
        ("json/decoder.py", "json"),
    ],
)
def test_a_frame_belongs_to_its_top_level_package(path: str, library: str) -> None:
    assert library_of(path) == library


def test_samples_go_to_the_innermost_frame_and_our_functions_count_inclusively() -> None:
    profile = summarise(
        [
            "process 1:python;run (uvloop/__init__.py:5);handle (services/gateway/hub.py:10);"
            "loads (json/__init__.py:346) 3",
            "run (uvloop/__init__.py:5);handle (services/gateway/hub.py:11) 1",
            "run (uvloop/__init__.py:5);publish (nats/aio/client.py:90) 2",
            "not a sample line",
        ]
    )

    assert profile.samples == 6
    assert profile.by_library == {"json": 3, "services.gateway": 1, "nats": 2}
    assert profile.own_inclusive["services.gateway.handle"] == 4
