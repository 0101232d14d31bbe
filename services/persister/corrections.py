"""A reviewer's corrections applied to a saved invoice: which fields changed, from what to what.

Pure: the values are checked by the `Invoice` model itself, so a correction is held to the same
rules as an extraction (money as decimal strings in any printed locale, ISO dates, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from contracts import CONFIDENCE_FIELDS, Invoice, Party, Payment
from contracts.errors import validation_message
from contracts.store import FieldChange

# Objects whose fields may be corrected one by one ("vendor.name") or whole ("vendor").
_NESTED: dict[str, type[BaseModel]] = {"vendor": Party, "customer": Party, "payment": Payment}
# A person has looked at a corrected value: it is as sure as a value gets.
REVIEWED_CONFIDENCE = 1.0


class CorrectionError(ValueError):
    """A correction names no invoice field or holds a value the field does not take."""


@dataclass(frozen=True)
class Corrected:
    invoice: Invoice
    confidence: dict[str, float]
    changes: list[FieldChange]


def check_path(path: str) -> None:
    head, _, tail = path.partition(".")
    if head not in Invoice.model_fields:
        raise CorrectionError(f"unknown field {path!r}")
    if tail and (head not in _NESTED or tail not in _NESTED[head].model_fields):
        raise CorrectionError(f"unknown field {path!r}")


def _get(data: Mapping[str, Any], path: str) -> Any:
    head, _, tail = path.partition(".")
    return data[head][tail] if tail else data[head]


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    head, _, tail = path.partition(".")
    if tail:
        data[head] = {**data[head], tail: value}
    else:
        data[head] = value


def _describe(error: ValidationError) -> str:
    return validation_message(error.errors(), limit=1)


def _confidence_keys(path: str) -> list[str]:
    if path in _NESTED:
        return [key for key in CONFIDENCE_FIELDS if key.startswith(f"{path}.")]
    return [path]


def apply_corrections(
    invoice: Invoice, confidence: Mapping[str, float], corrections: Mapping[str, Any]
) -> Corrected:
    """The corrected invoice, its confidence (reviewed fields at 1.0) and what really changed."""
    for path in corrections:
        check_path(path)
    before = invoice.model_dump(mode="json")
    data = invoice.model_dump(mode="json")
    for path in sorted(corrections):  # "vendor" before "vendor.name": the finer one wins
        _set(data, path, corrections[path])
    try:
        corrected = Invoice.model_validate(data)
    except ValidationError as exc:
        raise CorrectionError(_describe(exc)) from exc
    after = corrected.model_dump(mode="json")
    changes = [
        FieldChange(field=path, old=_get(before, path), new=_get(after, path))
        for path in sorted(corrections)
        if _get(before, path) != _get(after, path)
    ]
    reviewed = dict(confidence)
    for path in corrections:
        for key in _confidence_keys(path):
            reviewed[key] = REVIEWED_CONFIDENCE
    return Corrected(invoice=corrected, confidence=reviewed, changes=changes)
