"""Evidence of a model's answer: where on the document each value it returned is printed.

Values found in the document's text (its text layer, or an OCR pass over its images) carry
the box and the characters that print them. A value looked for and not found carries none: it
is not on the document as far as can be seen, and grounding has lowered its confidence. Where
the text is not known (images without the OCR pass) a one-page document's values carry their
page with no box and the value as the model returned it, the only reading there is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

from contracts import Evidence, Invoice
from services.extractor.grounding import Printed, printable_values
from services.extractor.page_text import PageText


def located_evidence(
    located: Mapping[str, Printed | None], pages: Sequence[PageText]
) -> dict[str, Evidence]:
    """The evidence of every value that was found."""
    by_number = {page.page: page for page in pages}
    evidence = {}
    for path, where in located.items():
        if where is not None:
            page = by_number[where.page]
            evidence[path] = Evidence(
                page=where.page,
                bbox=page.area(where.start, where.end),
                text=page.text[where.start : where.end],
            )
    return evidence


def unplaced_evidence(invoice: Invoice, page: int) -> dict[str, Evidence]:
    """Every filled value on `page` with no known position, its text the value as returned."""
    return {
        path: Evidence(page=page, bbox=None, text=_as_returned(value))
        for path, value in printable_values(invoice)
    }


def _as_returned(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
