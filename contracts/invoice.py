"""The invoice schema of spec section 4: what every provider produces and the store keeps."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.fields import FieldInfo

from contracts.money import parse_amount

MONEY_PATTERN = r"^-?\d+(\.\d+)?$"


def _to_decimal(value: object) -> object:
    # Money is a decimal string; a float would already have lost cents, so refuse it.
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool | float):
        raise ValueError("money must be a decimal string, not a float")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        # A model or a form may hand over the amount as printed ("1.234,56", "$8.20"): it is
        # read here, once, by the same rules as everywhere else.
        return parse_amount(value)
    raise ValueError(f"not a decimal amount: {value!r}")


# Shared by Money and Rate: `money_fields` knows their fields by this very serializer.
_READ_DECIMAL = BeforeValidator(_to_decimal)
_DECIMAL_TEXT = PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="always")
_DECIMAL_SCHEMA = WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN})

Money = Annotated[Decimal, _READ_DECIMAL, _DECIMAL_TEXT, _DECIMAL_SCHEMA]
"""A decimal amount, serialised as a string such as "193.00"."""

Rate = Annotated[Decimal, _READ_DECIMAL, _DECIMAL_TEXT, _DECIMAL_SCHEMA]
"""A percentage rate such as "20" or "7.5", serialised as a string."""

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

DocumentType = Literal["invoice", "receipt", "credit_note"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Party(_Model):
    name: str | None = None
    address: str | None = None
    tax_id: str | None = None
    email: str | None = None
    phone: str | None = None


class TaxDetail(_Model):
    rate: Rate | None = None
    base: Money | None = None
    amount: Money | None = None
    # The VAT category code of an e-invoice (EN 16931 BT-118: S, Z, E, AE, K, G, O, L, M).
    category: str | None = None


class LineItem(_Model):
    description: str | None = None
    quantity: Money | None = None
    unit: str | None = None
    unit_price: Money | None = None
    tax_rate: Rate | None = None
    amount: Money | None = None
    product_code: str | None = None


class Payment(_Model):
    iban: str | None = None
    bic: str | None = None
    reference: str | None = None


class Invoice(_Model):
    """Unknown values are None, never invented."""

    document_type: DocumentType | None = None
    invoice_number: str | None = None
    invoice_date: dt.date | None = None
    due_date: dt.date | None = None
    currency: CurrencyCode | None = None
    vendor: Party = Field(default_factory=Party)
    customer: Party = Field(default_factory=Party)
    purchase_order: str | None = None
    # The buyer's reference of an e-invoice (EN 16931 BT-10; the Leitweg-ID in XRechnung).
    buyer_reference: str | None = None
    payment_terms: str | None = None
    subtotal: Money | None = None
    total_discount: Money | None = None
    shipping: Money | None = None
    total_tax: Money | None = None
    total: Money | None = None
    # Printed as paid already (a deposit, a part payment); amount_due = total − amount_paid.
    amount_paid: Money | None = None
    amount_due: Money | None = None
    tax_details: list[TaxDetail] = Field(default_factory=list)
    line_items: list[LineItem] = Field(default_factory=list)
    payment: Payment = Field(default_factory=Payment)


def money_fields(model_cls: type[BaseModel]) -> tuple[str, ...]:
    """The fields of `model_cls` that hold a Money or a Rate, in declaration order."""
    return tuple(
        name
        for name, field in model_cls.model_fields.items()
        if any(item is _DECIMAL_TEXT for item in _metadata(field))
    )


def _metadata(field: FieldInfo) -> list[Any]:
    # Pydantic lifts the metadata of a bare `Money` onto the field; that of `Money | None` stays
    # on the union's Annotated member (a `list[Money]` is no money field: not looked into).
    union = get_origin(field.annotation) in (Union, UnionType)
    members = get_args(field.annotation) if union else ()
    annotated = [member for member in members if get_origin(member) is Annotated]
    return [*field.metadata, *(item for member in annotated for item in get_args(member)[1:])]


# The money fields of each model, as their annotations declare them.
INVOICE_MONEY = money_fields(Invoice)
LINE_ITEM_MONEY = money_fields(LineItem)
TAX_DETAIL_MONEY = money_fields(TaxDetail)

# Field paths a confidence map may name: top-level fields and dotted party fields.
CONFIDENCE_FIELDS: tuple[str, ...] = (
    "document_type",
    "invoice_number",
    "invoice_date",
    "due_date",
    "currency",
    "vendor.name",
    "vendor.address",
    "vendor.tax_id",
    "customer.name",
    "subtotal",
    "total_tax",
    "total",
    "amount_due",
    "line_items",
)


def filled_values(model: BaseModel, prefix: str = "") -> list[tuple[str, object]]:
    """Every non-null value of an invoice (or a part of one) with its field path, as evidence
    and validation issues name them: `total`, `vendor.name`, `line_items[2].amount`."""
    found: list[tuple[str, object]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            found.extend(filled_values(value, f"{path}."))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                found.extend(filled_values(item, f"{path}[{index}]."))
        elif value is not None and value != "":
            found.append((path, value))
    return found
