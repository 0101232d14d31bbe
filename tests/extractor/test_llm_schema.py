"""The answer schema sent to LLMs and its sanitising into `contracts.Invoice`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from openai.lib._pydantic import to_strict_json_schema

from services.extractor.llm_schema import (
    DEFAULT_CONFIDENCE,
    InvalidAnswerError,
    InvoiceAnswer,
    clean_date,
    clean_money,
    to_invoice,
)
from tests.fakes.openai_server import canned_answer, conform


def answer(**invoice: Any) -> InvoiceAnswer:
    schema = to_strict_json_schema(InvoiceAnswer)
    data = conform(canned_answer(), schema, schema)
    data["invoice"].update(invoice)
    return InvoiceAnswer.model_validate(data)


def test_strict_schema_requires_every_field_and_forbids_extras() -> None:
    schema = to_strict_json_schema(InvoiceAnswer)

    fields = schema["$defs"]["InvoiceFields"]
    assert fields["additionalProperties"] is False
    assert set(fields["required"]) == set(fields["properties"])
    assert fields["properties"]["total"]["anyOf"][0]["pattern"] == r"^-?\d+(\.\d+)?$"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("193.00", "193.00"),
        ("1,234.50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("12,50", "12.50"),
        ("$8.20", "8.20"),
        ("RM 12", "12"),
        ("-3.00", "-3.00"),
        ("1 234,56", "1234.56"),
        ("12.50 EUR", "12.50"),
        ("(5.00)", "-5.00"),
        ("1,80.37", None),
        ("n/a", None),
        ("", None),
        (None, None),
    ],
)
def test_money_is_cleaned(text: str | None, expected: str | None) -> None:
    assert clean_money(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2024-03-15", "2024-03-15"), ("2024-03-15T10:00:00", "2024-03-15"), ("15/03/2024", None)],
)
def test_dates_must_be_iso(text: str, expected: str | None) -> None:
    assert clean_date(text) == expected


def test_malformed_values_cost_only_themselves() -> None:
    invoice, confidence = to_invoice(
        answer(total="unknown", currency="euro", invoice_date="15.03.2024", subtotal="1,80.37")
    )

    assert invoice.total is None and invoice.currency is None and invoice.invoice_date is None
    assert invoice.vendor.name == "ACME GmbH" and invoice.total_tax == Decimal("12.63")
    assert "total" not in confidence and "currency" not in confidence


def test_filled_fields_without_a_reported_confidence_get_the_default() -> None:
    data = answer(due_date="2024-04-14").model_dump()
    data["confidence"] = [
        {"field": "total", "confidence": 0.9},
        {"field": "currency", "confidence": 7},
    ]

    invoice, confidence = to_invoice(InvoiceAnswer.model_validate(data))

    assert invoice.due_date == dt.date(2024, 4, 14)
    assert confidence["total"] == 0.9
    assert confidence["currency"] == DEFAULT_CONFIDENCE  # 7 is not a confidence
    assert confidence["vendor.name"] == DEFAULT_CONFIDENCE


def test_an_answer_that_cannot_be_an_invoice_is_invalid() -> None:
    # model_copy skips validation, like a lenient parser in front of a misbehaving model.
    good = answer()
    bad = good.model_copy(
        update={"invoice": good.invoice.model_copy(update={"document_type": "bill"})}
    )

    with pytest.raises(InvalidAnswerError):
        to_invoice(bad)
