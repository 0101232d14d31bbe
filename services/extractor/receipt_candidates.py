"""The choices on a receipt that are rankings, as candidates with features for a learned ranker:
which row(s) are the vendor's name, which run of rows is its address, which printed amount is
the total. Features are layout (position, size, centring), case and pattern matches, keywords on
and around the row, and arithmetic that ties an amount to others (cash − change, a rounding
adjustment, subtotal + tax). `receipt_ranker` scores them; nothing here decides.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

from services.extractor.receipt_rows import Row
from services.extractor.receipt_text import (
    ADDRESS_WORD,
    AFTER_ADDRESS,
    CHANGE,
    COMPANY_SUFFIX,
    CONTINUATION,
    GST,
    MALAYSIA,
    NOT_A_NAME,
    NOT_TOTAL,
    PAID,
    POSTCODE,
    REGISTRATION_ROW,
    SUBTOTAL,
    TAX_ROW,
    TIME,
    amounts,
    clean_name,
    commas,
    money,
    name_like,
    plain_letters,
    total_priority,
)

VENDOR_ROWS = 10
ADDRESS_START = 6
ADDRESS_ROWS = 6
_SMALL = Decimal("0.10")
# Total labels as OCR garbles them ("Totel", "Fotal") and the words around them.
_TOTAL_LIKE = re.compile(r"[TF7]\s*[O0]\s*T\s*[AE]\s*L|PAYABLE|\bNETT?\b|\bAMOUNT\b|\bAMT\b", re.I)
_ROUND = re.compile(r"ROUND|ADJ", re.I)
_STATE = re.compile(
    r"\b(SELANGOR|JOHOR|KUALA\s*LUMPUR|PERAK|PAHANG|KEDAH|MELAKA|SABAH|SARAWAK|PENANG|PINANG|"
    r"KELANTAN|TERENGGANU|PERLIS|NEGERI|SEMBILAN|PUTRAJAYA|LABUAN|MALAYSIA|DARUL|EHSAN|TAKZIM)\b",
    re.I,
)
# A contact part printed on the address's last row ("40170 SHAH ALAM, TEL: 03-3362 3608").
_CONTACT_TAIL = re.compile(r"\s*\b(TEL|TELEPHONE|FAX|PHONE|H/P|HP|E-?MAIL)\b.*$", re.I)
# A registration number before the address on its first row: "Roc: 1026984-X", "(1074617K)".
_REGISTRATION_HEAD = re.compile(
    r"^\s*(?:(?:ROC|CO\.?\s*REG|REG)\.?\s*(?:NO)?\.?\s*:?\s*[\dA-Z-]*\d[\dA-Z-]*|"
    r"\(\s*[\dA-Z-]*\d[\dA-Z-]*\s*\))\s+",
    re.I,
)
# An outlet printed under the address as "1934-LAMAN RIMBUNAN".
_BRANCH = re.compile(r"^\d{3,4}\s*-\s*[A-Z]", re.I)
_CODE_ROW = re.compile(r"^\(?[\dA-Z\-]{5,}\)?$")
_NOTICE = re.compile(r"\b(NUMBER|THANK|GOODS|RETURN|WELCOME|PLEASE|SOLD|CHIT)\b", re.I)
_DANGLING = re.compile(r"(&|\bAND|-|,)\s*$|\([^)]*$", re.I)
_LOCATION = re.compile(r"\b(FLR|FLOOR|LEVEL|LOT|MALL|SC|PLAZA|OUTLET|BRANCH|CAWANGAN)\b", re.I)


@dataclass(frozen=True)
class Candidate:
    """One possible answer: its value, the rows it was read from and its features."""

    value: str
    rows: tuple[Row, ...]
    features: dict[str, float]


@dataclass(frozen=True)
class _Layout:
    """Page-wide measures that make row sizes and positions comparable across receipts."""

    line_height: float
    left: float
    right: float

    @classmethod
    def of(cls, rows: Sequence[Row]) -> _Layout:
        boxes = [row.box for row in rows if row.box is not None]
        if not boxes:
            return cls(1.0, 0.0, 1.0)
        return cls(
            max(median(b[3] - b[1] for b in boxes), 1.0),
            min(b[0] for b in boxes),
            max(*(b[2] for b in boxes), min(b[0] for b in boxes) + 1.0),
        )

    def height(self, row: Row) -> float:
        return 1.0 if row.box is None else (row.box[3] - row.box[1]) / self.line_height

    def off_centre(self, row: Row) -> float:
        if row.box is None:
            return 0.0
        middle = (self.left + self.right) / 2
        return abs((row.box[0] + row.box[2]) / 2 - middle) / (self.right - self.left)

    def width(self, row: Row) -> float:
        return 1.0 if row.box is None else (row.box[2] - row.box[0]) / (self.right - self.left)


def _case(text: str) -> tuple[float, float, float]:
    """Shares of upper-case letters among letters, of letters and of digits among characters."""
    chars = text.replace(" ", "")
    letters = [c for c in chars if c.isalpha()]
    upper = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
    size = max(len(chars), 1)
    return upper, len(letters) / size, sum(c.isdigit() for c in chars) / size


def _flag(pattern: re.Pattern[str], text: str) -> float:
    return 1.0 if pattern.search(text) else 0.0


def first_page(rows: Sequence[Row]) -> list[Row]:
    return [row for row in rows if row.page == rows[0].page] if rows else []


def _plain(rows: Sequence[Row]) -> bool:
    """Whether the document is Malaysian, so written without diacritics."""
    return any(MALAYSIA.search(row.text) for row in rows)


# --- vendor ---------------------------------------------------------------------------------


def vendor_candidates(rows: Sequence[Row]) -> list[Candidate]:
    """Each of the top rows alone, and each with the row below it (names wrap)."""
    page = first_page(rows)
    top = page[:VENDOR_ROWS]
    layout = _Layout.of(page)
    first_name = next((i for i, row in enumerate(top) if name_like(row.text)), -1)
    tallest = max((layout.height(row) for row in top), default=1.0)
    plain = _plain(rows)
    out = []
    for index in range(len(top)):
        for size in (1, 2, 3):
            if index + size > len(top):
                continue
            parts = tuple(top[index : index + size])
            value = clean_name(" ".join(row.text for row in parts))
            value = plain_letters(value) if plain else value
            if not any(c.isalpha() for c in value):
                continue
            features = _vendor_features(top, (index, size), layout, first_name, tallest)
            out.append(Candidate(value, parts, features))
    return out


def _vendor_features(
    top: Sequence[Row], span: tuple[int, int], layout: _Layout, first_name: int, tallest: float
) -> dict[str, float]:
    index, size = span
    parts = top[index : index + size]
    text = " ".join(row.text for row in parts)
    before = top[index - 1].text if index > 0 else ""
    after = top[index + size].text if index + size < len(top) else ""
    upper, letters, digits = _case(text)
    height = sum(layout.height(row) for row in parts) / size
    return {
        "index": float(index),
        "first": float(index == 0),
        "first_name_like": float(index == first_name),
        "pair": float(size == 2),
        "triple": float(size == 3),
        "height": height,
        "tallest": float(height >= 0.95 * tallest),
        "off_centre": sum(layout.off_centre(row) for row in parts) / size,
        "width": max(layout.width(row) for row in parts),
        "upper": upper,
        "letters": letters,
        "digits": digits,
        "length": math.log1p(len(text)),
        "name_like": float(all(name_like(row.text) for row in parts)),
        "suffix": _flag(COMPANY_SUFFIX, text),
        "suffix_last": _flag(COMPANY_SUFFIX, parts[-1].text),
        "suffix_first": _flag(COMPANY_SUFFIX, parts[0].text) if size >= 2 else 0.0,
        "not_a_name": _flag(NOT_A_NAME, text),
        "address_word": _flag(ADDRESS_WORD, text),
        "location": _flag(_LOCATION, text),
        "postcode": _flag(POSTCODE, text),
        "starts_continuation": float(bool(CONTINUATION.match(parts[0].text.strip()))),
        "second_continues": float(size >= 2 and bool(CONTINUATION.match(parts[1].text.strip()))),
        "third_continues": float(size == 3 and bool(CONTINUATION.match(parts[2].text.strip()))),
        "middle_suffix": _flag(COMPANY_SUFFIX, parts[1].text) if size == 3 else 0.0,
        "before_name_like": float(bool(before) and name_like(before)),
        "before_suffix": _flag(COMPANY_SUFFIX, before),
        "after_continues": float(bool(CONTINUATION.match(after.strip()))),
        "after_suffix": _flag(COMPANY_SUFFIX, after),
        "after_address": _flag(ADDRESS_WORD, after) + _flag(POSTCODE, after),
        "registration": float(bool(re.search(r"\((?=[^)]*\d)", text))),
        "ocr_score": min(row.score for row in parts),
        "notice": _flag(_NOTICE, text),
        "dangling": _flag(_DANGLING, text),
        "suffix_below": float(
            not COMPANY_SUFFIX.search(text)
            and any(COMPANY_SUFFIX.search(row.text) for row in top[index + size :])
        ),
        "suffix_above": float(any(COMPANY_SUFFIX.search(row.text) for row in top[:index])),
    }


# --- address --------------------------------------------------------------------------------


def address_candidates(rows: Sequence[Row], vendor: Sequence[Row]) -> list[Candidate]:
    """Runs of up to `ADDRESS_ROWS` rows starting a few rows under the vendor's name."""
    page = first_page(rows)
    if not page:
        return []
    layout = _Layout.of(page)
    end = max((page.index(row) for row in vendor if row in page), default=-1)
    plain = _plain(rows)
    out = []
    for start in range(end + 1, min(end + 1 + ADDRESS_START, len(page))):
        for size in range(1, ADDRESS_ROWS + 1):
            if start + size > len(page):
                break
            parts = tuple(page[start : start + size])
            value = _address_text(parts)
            value = plain_letters(value) if plain else value
            features = _address_features(page, start, size, start - end - 1, layout)
            out.append(Candidate(value, parts, features))
    return out


def _address_text(parts: Sequence[Row]) -> str:
    """The rows joined, a contact part on the last one cut off (not a whole contact row)."""
    texts = [" ".join(row.text.split()) for row in parts]
    texts[0] = _REGISTRATION_HEAD.sub("", texts[0]) or texts[0]
    tail = _CONTACT_TAIL.sub("", texts[-1])
    if tail.strip(" ,") and tail != texts[-1]:
        # The address ends where the contact part starts, its comma printed with it.
        return commas(" ".join([*texts[:-1], tail]).strip())
    return commas(" ".join(texts).strip(" ,"))


def _address_features(
    page: Sequence[Row], start: int, size: int, gap: int, layout: _Layout
) -> dict[str, float]:
    parts = page[start : start + size]
    texts = [row.text for row in parts]
    after = page[start + size].text if start + size < len(page) else ""
    before = page[start - 1].text if start > 0 else ""
    postcodes = [i for i, text in enumerate(texts) if POSTCODE.search(text)]
    states = [i for i, text in enumerate(texts) if _STATE.search(text)]
    heights = [layout.height(row) for row in parts]
    return {
        "gap": float(gap),
        "rows": float(size),
        "index": float(start),
        "address_words": sum(_flag(ADDRESS_WORD, t) for t in texts) / size,
        "first_address_word": _flag(ADDRESS_WORD, texts[0]),
        "first_digit": float(texts[0][:1].isdigit()),
        "postcode": float(bool(postcodes)),
        "postcode_last": float(bool(postcodes) and postcodes[-1] == size - 1),
        "rows_after_postcode": float(size - 1 - postcodes[-1]) if postcodes else 0.0,
        "state_last": _flag(_STATE, texts[-1]),
        "rows_after_state": float(size - 1 - states[-1]) if states else 0.0,
        "branch_last": _flag(_BRANCH, texts[-1].strip()),
        "after_branch": _flag(_BRANCH, after.strip()),
        "colon_last": float(":" in texts[-1]),
        "colon_after": float(":" in after),
        "contact_inside": sum(_flag(AFTER_ADDRESS, t) for t in texts),
        "gst_inside": sum(_flag(GST, t) for t in texts),
        "time_inside": sum(_flag(TIME, t) for t in texts),
        "amount_inside": float(any(amounts(t) for t in texts)),
        "registration_inside": sum(_flag(REGISTRATION_ROW, t.strip()) for t in texts),
        "suffix_inside": sum(_flag(COMPANY_SUFFIX, t) for t in texts),
        "first_registration": _flag(REGISTRATION_ROW, texts[0].strip()),
        "first_code": _flag(_CODE_ROW, texts[0].strip().replace(" ", "")),
        "first_paren": float("(" in texts[0]),
        "contact_tail": float(bool(_CONTACT_TAIL.search(texts[-1]))),
        "contact_before_last": sum(_flag(AFTER_ADDRESS, t) for t in texts[:-1]),
        "ends_comma": float(texts[-1].rstrip().endswith(",")),
        "before_comma": float(before.rstrip().endswith(",")),
        "after_contact": _flag(AFTER_ADDRESS, after) + _flag(GST, after),
        "after_time": _flag(TIME, after),
        "after_address_word": _flag(ADDRESS_WORD, after),
        "after_state": _flag(_STATE, after),
        "after_postcode": _flag(POSTCODE, after),
        "after_registration": _flag(REGISTRATION_ROW, after.strip()),
        "after_end": float(not after),
        "height_spread": max(heights) - min(heights),
        "height_jump_after": abs(layout.height(page[start + size]) - heights[-1])
        if start + size < len(page)
        else 0.0,
        "ocr_score": min(row.score for row in parts),
    }


# --- total ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Amount:
    value: Decimal
    index: int
    last_on_row: bool


def total_candidates(rows: Sequence[Row]) -> list[Candidate]:
    """Every printed amount, with its labels and the arithmetic it takes part in."""
    printed = [
        _Amount(value, index, position == len(values) - 1)
        for index, values in enumerate(amounts(row.text) for row in rows)
        for position, value in enumerate(values)
    ]
    if not printed:
        return []
    context = _AmountContext.of(rows, printed)
    return [
        Candidate(money(item.value), (rows[item.index],), context.features(item))
        for item in printed
        if item.value > 0
    ]


@dataclass(frozen=True)
class _AmountContext:
    rows: Sequence[Row]
    printed: Sequence[_Amount]
    ranks: dict[Decimal, int]
    labelled: frozenset[Decimal]
    subtotal_plus_tax: frozenset[Decimal]

    @classmethod
    def of(cls, rows: Sequence[Row], printed: Sequence[_Amount]) -> _AmountContext:
        distinct = sorted({item.value for item in printed}, reverse=True)
        labelled = frozenset(
            item.value for item in printed if total_priority(rows[item.index].text) > 0
        )
        subtotals = [it.value for it in printed if SUBTOTAL.search(rows[it.index].text)]
        taxes = [it.value for it in printed if _is_tax(rows[it.index].text)]
        return cls(
            rows,
            printed,
            {value: rank for rank, value in enumerate(distinct)},
            labelled,
            # Subtotal + tax, and that with a printed rounding adjustment either way.
            frozenset(
                s + t + sign * d
                for s in subtotals
                for t in taxes
                for d in {Decimal(0)}
                | {abs(it.value) for it in printed if 0 < abs(it.value) < _SMALL}
                for sign in (1, -1)
            ),
        )

    def features(self, item: _Amount) -> dict[str, float]:
        text = self.rows[item.index].text
        previous = self.rows[item.index - 1].text if item.index > 0 else ""
        alone = not any(c.isalpha() for c in text)
        largest = max(it.value for it in self.printed)
        later = [it.value for it in self.printed if it.index > item.index]
        return {
            "priority": float(total_priority(text)),
            "previous_priority": float(total_priority(previous)) if alone else 0.0,
            "not_total": _flag(NOT_TOTAL, text),
            "round": _flag(_ROUND, text),
            "paid": _flag(PAID, text),
            "change": _flag(CHANGE, text),
            "subtotal": _flag(SUBTOTAL, text),
            "tax": float(_is_tax(text)),
            "previous_paid": _flag(PAID, previous) if alone else 0.0,
            "previous_change": _flag(CHANGE, previous) if alone else 0.0,
            "alone": float(alone),
            "last_on_row": float(item.last_on_row),
            "position": item.index / max(len(self.rows) - 1, 1),
            "rank": float(min(self.ranks[item.value], 5)),
            "largest": float(item.value == largest),
            "share_of_largest": float(item.value / largest) if largest else 0.0,
            "repeats": float(min(sum(it.value == item.value for it in self.printed) - 1, 3)),
            "adjusted": float(self._adjusted(item, below=False)),
            "adjusts_to_other": float(self._adjusted(item, below=True)),
            "paid_minus_change": float(self._paid_minus_change() == item.value),
            "total_like": _flag(_TOTAL_LIKE, text),
            "previous_total_like": _flag(_TOTAL_LIKE, previous) if alone else 0.0,
            "cash_minus_change": float(
                any(p - c == item.value for p in later for c in later if 0 < c < p)
            ),
            "subtotal_plus_tax": float(item.value in self.subtotal_plus_tax),
            "labelled_elsewhere": float(item.value in self.labelled and total_priority(text) == 0),
            "log_value": math.log1p(float(item.value)),
            "ocr_score": self.rows[item.index].score,
        }

    def _adjusted(self, item: _Amount, below: bool) -> bool:
        """An amount printed above (`below`: under) this one, a small adjustment printed in
        between, and this amount their sum or difference: the rounded total sits under the
        adjustment, the unrounded one above it."""
        step = 1 if below else -1
        near = range(item.index + step, item.index + 4 * step, step)
        smalls = {
            it.index: abs(it.value)
            for it in self.printed
            if it.index in near and 0 < abs(it.value) < _SMALL
        }
        return any(
            (other.index - index) * step > 0 and abs(other.value - item.value) == small
            for index, small in smalls.items()
            for other in self.printed
            if abs(other.value) >= _SMALL
        )

    def _paid_minus_change(self) -> Decimal | None:
        """The first amount on a cash/paid row less the amount on the change row after it."""
        paid = change = None
        for it in self.printed:
            text = self.rows[it.index].text
            if paid is None and PAID.search(text) and not CHANGE.search(text):
                paid = it
            elif (
                paid is not None
                and change is None
                and CHANGE.search(text)
                and it.index > paid.index
            ):
                change = it
        return paid.value - change.value if paid and change else None


def _is_tax(text: str) -> bool:
    return bool(TAX_ROW.search(text)) and not re.search(r"TOTAL|\bREG\b|\bID\b|\bNO\b", text, re.I)
