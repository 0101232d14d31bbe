"""Opaque cursors for the invoice list: the sort key of the last item of a page.

The list is ordered newest first by (created_at, id); a cursor names where the next page starts,
so pages stay stable while new invoices arrive.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json


class CursorError(ValueError):
    """The cursor was not made by `encode_cursor` (or was cut short)."""


def encode_cursor(created_at: dt.datetime, invoice_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), invoice_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, invoice_id = json.loads(raw)
        when = dt.datetime.fromisoformat(created)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise CursorError("not a cursor of this list") from exc
    if not isinstance(invoice_id, str) or when.tzinfo is None:
        raise CursorError("not a cursor of this list")
    return when, invoice_id
