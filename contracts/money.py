"""Reading amounts as printed in any locale: "1,234.56", "1.234,56", "1 234,56", "1'234.56".

Two readers share one set of rules, so every service understands an amount the same way:

- `parse_amount` reads one value that is known to be an amount (a model's answer, a form
  field) and says clearly when it is not one;
- `find_amounts` / `iter_amounts` find every amount printed *with cents* in free text (a PDF
  text layer, an OCR row): there the two decimals are what tells an amount from a year, a
  quantity or a phone number.

The ambiguous cases are decided once, here:

- one dot and no other separator is always a decimal point ("1.234" is 1.234), because that
  is what machines emit;
- one comma followed by exactly three digits groups thousands ("1,234" is 1234) unless it
  cannot ("0,500", "1234,567": a thousands group never follows a 0 or four digits), and any
  other single comma is a decimal comma ("12,50", "12,5");
- several dots or several commas group thousands ("1.234.567");
- with two kinds of separator, the last one is the decimal separator ("1.234,56").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

# Separators that group thousands: comma, dot, apostrophes (Swiss), a plain space and the
# spaces typesetters use so a number never breaks across lines (NBSP, narrow NBSP, thin).
_UNBREAKABLE_SPACES = "\u00a0\u202f\u2009"
_GROUP_SEPARATORS = ",.'’ " + _UNBREAKABLE_SPACES
_DECIMAL_SEPARATORS = ".,"
_MINUS = "-−"  # hyphen-minus and the typographic minus sign

# A currency printed before or after a value that is known to be an amount: an ISO 4217 code,
# a local abbreviation or a symbol. Case matters: "EUR" is a code, "eur 12" is prose.
_CURRENCY = r"(?:[A-Z]{3}|[A-Z]{1,2}\$|RM|Rp|Rs\.?|kr\.?|zł|[$€£¥₹₩₽₺₫฿₱₪])"
_SIGN = "[+" + re.escape(_MINUS) + "]"
_LEADING = re.compile(rf"^(?P<sign>{_SIGN})?\s*(?:{_CURRENCY}\s*)?(?P<sign2>{_SIGN})?\s*")
_TRAILING = re.compile(rf"\s*(?:{_CURRENCY})?\s*(?P<sign>[{re.escape(_MINUS)}])?$")
_BODY = re.compile(r"\d+(?:[^\d]\d+)*|[.,]\d+")
_TOKENS = re.compile(r"\d+|[^\d]")
# What machines emit ("193.00", "-5"): most values every message carries, read at Decimal's speed.
_PLAIN = re.compile(r"-?\d+(?:\.\d+)?")


def parse_amount(text: str) -> Decimal:
    """The amount `text` spells, e.g. Decimal("1234.56") for "1.234,56 €" or "$1,234.56".

    Raises ValueError, naming the text, when it is not an amount: empty, letters inside,
    thousands groups that are not three digits, two decimal separators.
    """
    if _PLAIN.fullmatch(text):
        return Decimal(text)
    body = " ".join(text.split())  # any run of whitespace, NBSP included, counts as one space
    negative = False
    if body.startswith("(") and body.endswith(")"):
        # Accounting notation: "(12.50)" is a credit of 12.50.
        negative, body = True, body[1:-1].strip()
    # The caret and dollar anchors always match, so these never return None.
    leading = _LEADING.match(body)
    assert leading is not None
    body = body[leading.end() :]
    trailing = _TRAILING.search(body)
    assert trailing is not None
    body = body[: trailing.start()]
    # "12.50-" is how tills print a refund; a value carries at most one sign.
    signs = [s for s in (leading["sign"], leading["sign2"], trailing["sign"]) if s]
    if len(signs) + negative > 1:
        raise ValueError(f"not an amount (more than one sign): {text!r}")
    negative = negative or (bool(signs) and signs[0] in _MINUS)
    if not body:
        raise ValueError(f"not an amount (no digits): {text!r}")
    if not _BODY.fullmatch(body):
        raise ValueError(f"not an amount: {text!r}")
    whole, fraction = _split(body, text)
    # Built as text, not negated, so "-0.00" keeps its sign as Decimal("-0.00") would.
    sign = "-" if negative else ""
    return Decimal(f"{sign}{whole}.{fraction}" if fraction is not None else f"{sign}{whole}")


def _split(body: str, text: str) -> tuple[str, str | None]:
    """The integer digits and the fraction digits (None without decimal separator) of `body`,
    which alternates digit runs and single separators."""
    tokens = _TOKENS.findall(body)
    if tokens[0] in _DECIMAL_SEPARATORS:  # ".5", as machines sometimes emit
        return "0", tokens[1]
    groups, separators = tokens[0::2], tokens[1::2]
    for separator in separators:
        if separator not in _GROUP_SEPARATORS:
            raise ValueError(f"not an amount ({separator!r} between digits): {text!r}")
    if not separators:
        return groups[0], None
    if len(set(separators)) == 1:
        return _split_one_kind(groups, separators, text)
    return _split_mixed(groups, separators, text)


def _split_one_kind(groups: list[str], separators: list[str], text: str) -> tuple[str, str | None]:
    """One kind of separator: a lone dot or a lone decimal-looking comma splits off the
    fraction; anything else groups thousands."""
    if len(separators) == 1:
        if separators[0] == ".":
            return groups[0], groups[1]  # the machine's decimal point: "1.234" is 1.234
        if separators[0] == "," and not (len(groups[1]) == 3 and _leads(groups[0])):
            return groups[0], groups[1]  # a decimal comma: "12,50", "0,500"
    return _grouped(groups, text), None


def _split_mixed(groups: list[str], separators: list[str], text: str) -> tuple[str, str]:
    """Mixed separators ("1.234,56"): the last one, printed once, is the decimal separator."""
    decimal = separators[-1]
    if decimal not in _DECIMAL_SEPARATORS:
        raise ValueError(f"not an amount (last separator is not a decimal one): {text!r}")
    if separators.count(decimal) > 1:
        raise ValueError(f"not an amount (two decimal separators): {text!r}")
    if len(set(separators)) > 2:  # one kind groups thousands, the other is the decimal separator
        raise ValueError(f"not an amount (mixed thousands separators): {text!r}")
    return _grouped(groups[:-1], text), groups[-1]


def _leads(group: str) -> bool:
    # The first group of a thousands-grouped number: one to three digits, no leading zero.
    return 1 <= len(group) <= 3 and not group.startswith("0")


def _grouped(groups: list[str], text: str) -> str:
    if not _leads(groups[0]) or any(len(g) != 3 for g in groups[1:]):
        raise ValueError(f"not an amount (thousands are grouped by three): {text!r}")
    return "".join(groups)


# --- amounts in free text -------------------------------------------------------------------

# Currencies whose sign may stand in front of them ("-RM 5.00", "-$5.00"). Only names that are
# not also words or tax labels: "-GST 5.00" is a label and a positive 5.00.
_TEXT_CURRENCY = r"(?:RM|MYR|EUR|USD|GBP|SGD|CHF|[$€£¥])"


def _text_pattern(separators: str) -> re.Pattern[str]:
    group = "[" + re.escape(separators) + "]"
    return re.compile(
        # Not the tail of a longer number ("3.14159" holds no "14.15"), not a rate ("6.00%").
        rf"(?<![\d.,])(?P<sign>[{re.escape(_MINUS)}]\s?)?(?:{_TEXT_CURRENCY}\s?)?"
        # One thousands separator throughout; the one before the two cents is the decimal
        # separator, whatever it is, as OCR reads "1,234.56" as "1.234.56" too.
        rf"(?P<whole>\d{{1,3}}(?:(?P<group>{group})\d{{3}}(?:(?P=group)\d{{3}})*)?|\d+)"
        rf"[{_DECIMAL_SEPARATORS}](?P<cents>\d{{2}})(?![\d%])"
    )


_IN_TEXT = _text_pattern(_GROUP_SEPARATORS)
# Rows joined from OCR boxes put a plain space between columns: "2 100.00" is a quantity and
# a price there, not 2100.00.
_IN_COLUMNS = _text_pattern(_GROUP_SEPARATORS.replace(" ", ""))


@dataclass(frozen=True, slots=True)
class PrintedAmount:
    """An amount found in a text, and where: `text[start:end]` is how it was printed."""

    value: Decimal
    start: int
    end: int


def iter_amounts(text: str, *, space_groups: bool = True) -> Iterator[PrintedAmount]:
    """Every amount printed with two decimals in `text`, left to right.

    A bare "0" or "2024" is not an amount, nor "3.14159" or "6.00%". `space_groups=False`
    stops a plain space from grouping thousands, for text whose spaces separate columns.
    """
    pattern = _IN_TEXT if space_groups else _IN_COLUMNS
    for match in pattern.finditer(text):
        sign = "-" if match["sign"] else ""
        whole = re.sub(r"\D", "", match["whole"])
        value = Decimal(f"{sign}{whole}.{match['cents']}")
        yield PrintedAmount(value, match.start(), match.end())


def find_amounts(text: str, *, space_groups: bool = True) -> list[Decimal]:
    """The values of `iter_amounts`: every amount printed with two decimals, left to right."""
    return [found.value for found in iter_amounts(text, space_groups=space_groups)]
