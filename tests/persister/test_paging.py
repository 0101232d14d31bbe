"""Cursors round-trip and refuse what they did not make."""

from __future__ import annotations

import datetime as dt

import pytest

from services.persister.paging import CursorError, decode_cursor, encode_cursor


def test_a_cursor_round_trips() -> None:
    when = dt.datetime(2026, 11, 29, 5, 6, 7, 123456, tzinfo=dt.UTC)
    cursor = encode_cursor(when, "inv_" + "a" * 32)

    assert "=" not in cursor and "/" not in cursor and "+" not in cursor  # URL-safe as is
    assert decode_cursor(cursor) == (when, "inv_" + "a" * 32)


@pytest.mark.parametrize(
    "cursor",
    ["", "nonsense", "!!!", "WzFd", "eyJhIjoxfQ", "WyIyMDI2LTExLTI5IiwgImludl8xIl0"],
)
def test_anything_else_is_refused(cursor: str) -> None:
    # "WzFd" is [1]; "eyJhIjoxfQ" is {"a":1}; the last one has a date without a time zone.
    with pytest.raises(CursorError):
        decode_cursor(cursor)
