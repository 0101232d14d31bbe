"""The answer we ask an LLM for, and its conversion into `contracts.Invoice`.

The answer mirrors `Invoice` with plain strings (money, dates, currency): the JSON schema shows
the model the expected formats, but one malformed value must cost that value, not the whole
extraction. Sanitising then turns each value into its contract type or None.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from contracts import CONFIDENCE_FIELDS, Invoice, parse_amount
from contracts.invoice import INVOICE_MONEY, LINE_ITEM_MONEY, MONEY_PATTERN, TAX_DETAIL_MONEY

MoneyText = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "pattern": MONEY_PATTERN, "description": "decimal, e.g. 1234.50"}
    ),
]
DateText = Annotated[
    str,
    WithJsonSchema({"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "ISO"}),
]
CurrencyText = Annotated[
    str, WithJsonSchema({"type": "string", "pattern": r"^[A-Z]{3}$", "description": "ISO 4217"})
]
FieldName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(CONFIDENCE_FIELDS)})]

# Confidence for a filled field the model gave no (usable) confidence for.
DEFAULT_CONFIDENCE = 0.7


class _Answer(BaseModel):
    # The provider's extra keys are ignored rather than failing the task.
    model_config = ConfigDict(extra="ignore")


class PartyAnswer(_Answer):
    name: str | None
    address: str | None
    tax_id: str | None
    email: str | None
    phone: str | None


class TaxDetailAnswer(_Answer):
    rate: MoneyText | None = Field(description="percent, e.g. 20")
    base: MoneyText | None
    amount: MoneyText | None


class LineItemAnswer(_Answer):
    description: str | None
    quantity: MoneyText | None
    unit: str | None
    unit_price: MoneyText | None
    tax_rate: MoneyText | None = Field(description="percent, e.g. 20")
    amount: MoneyText | None
    product_code: str | None


class PaymentAnswer(_Answer):
    iban: str | None
    bic: str | None
    reference: str | None


class InvoiceFields(_Answer):
    document_type: Literal["invoice", "receipt", "credit_note"] | None
    invoice_number: str | None
    invoice_date: DateText | None
    due_date: DateText | None
    currency: CurrencyText | None
    vendor: PartyAnswer
    customer: PartyAnswer
    purchase_order: str | None
    payment_terms: str | None
    subtotal: MoneyText | None
    total_discount: MoneyText | None
    shipping: MoneyText | None
    total_tax: MoneyText | None
    total: MoneyText | None
    amount_paid: MoneyText | None
    amount_due: MoneyText | None
    tax_details: list[TaxDetailAnswer]
    line_items: list[LineItemAnswer]
    payment: PaymentAnswer


class FieldConfidence(_Answer):
    field: FieldName
    confidence: float = Field(description="0 to 1: how sure the value is read correctly")


class InvoiceAnswer(_Answer):
    """The whole answer: the invoice and a confidence for each field that was filled."""

    invoice: InvoiceFields
    confidence: list[FieldConfidence]


_CURRENCY = re.compile(r"^[A-Z]{3}$")


class InvalidAnswerError(ValueError):
    """The answer cannot become an `Invoice` even after sanitising."""


def to_invoice(answer: InvoiceAnswer) -> tuple[Invoice, dict[str, float]]:
    data = answer.invoice.model_dump()
    for key in INVOICE_MONEY:
        data[key] = clean_money(data[key])
    for item in data["line_items"]:
        for key in LINE_ITEM_MONEY:
            item[key] = clean_money(item[key])
    for detail in data["tax_details"]:
        for key in TAX_DETAIL_MONEY:
            detail[key] = clean_money(detail[key])
    for key in ("invoice_date", "due_date"):
        data[key] = clean_date(data[key])
    currency = (data["currency"] or "").strip().upper()
    data["currency"] = currency if _CURRENCY.match(currency) else None
    try:
        invoice = Invoice.model_validate(data)
    except ValidationError as exc:
        raise InvalidAnswerError(str(exc)) from exc
    return invoice, confidences(invoice, answer.confidence)


def clean_money(value: str | None) -> str | None:
    """A plain decimal string from "1,234.50", "$8.20", "RM 12" or "1.234,50"; else None."""
    if value is None:
        return None
    try:
        return format(parse_amount(value), "f")
    except ValueError:
        return None  # not an amount: this value is lost, not the whole answer


def clean_date(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        return None


def confidences(invoice: Invoice, reported: list[FieldConfidence]) -> dict[str, float]:
    """A confidence for every filled field: the model's own when given, else a moderate one."""
    given = {item.field: item.confidence for item in reported if 0.0 <= item.confidence <= 1.0}
    result: dict[str, float] = {}
    for path in CONFIDENCE_FIELDS:
        if _is_filled(invoice, path):
            result[path] = given.get(path, DEFAULT_CONFIDENCE)
    return result


def _is_filled(invoice: Invoice, path: str) -> bool:
    value: Any = invoice
    for part in path.split("."):
        value = getattr(value, part)
    return value not in (None, "", [])
