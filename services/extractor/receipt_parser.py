"""A first rule-based reader of receipts from rows of text (OCR or a PDF text layer).

Each rule returns a value, the row it came from and an honest confidence: high only when the
value was found in the expected place *and* cross-checks (e.g. cash − change = total).
Dates are read day-first, as on the Malaysian receipts this was developed on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from contracts import Evidence, Invoice, Party
from services.extractor.receipt_candidates import (
    address_candidates,
    total_candidates,
    vendor_candidates,
)
from services.extractor.receipt_ranker import Pick, Ranker, shipped_ranker
from services.extractor.receipt_rows import Row
from services.extractor.receipt_text import (
    ADDRESS_WORD,
    AFTER_ADDRESS,
    CHANGE,
    COMPANY_SUFFIX,
    GST,
    MALAYSIA,
    NOT_TAX_ROW,
    PAID,
    POSTCODE,
    REGISTRATION_ROW,
    SUBTOTAL,
    TAX_ROW,
    TIME,
    amounts,
    clean_name,
    commas,
    continues,
    money,
    name_like,
    printed_amounts,
    total_priority,
)

# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    value: object
    confidence: float
    row: Row | None = None


@dataclass
class ParsedReceipt:
    invoice: Invoice
    confidence: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, Evidence] = field(default_factory=dict)
    # Each field's score before calibration and rounding: what the calibration is measured on.
    raw: dict[str, float] = field(default_factory=dict)


# Fields whose confidence is the accuracy measured for their score (`receipt_ranker`).
CALIBRATED = ("vendor.name", "vendor.address", "total", "invoice_date", "currency", "document_type")
# The only values the calibration receipts (Malaysian till receipts) have truth for: any other
# currency or document type was never measured there and keeps its rule's score.
MEASURED_VALUES = {"currency": "MYR", "document_type": "receipt"}


def parse_receipt(rows: Sequence[Row], ranker: Ranker | None = None) -> ParsedReceipt:
    """Rules for what follows a pattern (dates, amounts, arithmetic); on OCR rows the learned
    `ranker` (the shipped one by default) chooses vendor, address and total among candidates."""
    ranker = ranker or shipped_ranker()
    ranked = ranker is not None and any(row.box is not None for row in rows)
    found: dict[str, Found | None] = (
        _ranked(rows, ranker) if ranker is not None and ranked else _ruled(rows)
    )
    found.update(
        {
            "invoice_date": find_date(rows),
            "invoice_number": find_number(rows),
            "currency": find_currency(rows),
            "vendor.tax_id": find_tax_id(rows),
            "document_type": find_document_type(rows),
        }
    )
    hits = {key: hit for key, hit in found.items() if hit is not None}
    raw = {key: hit.confidence for key, hit in hits.items()}
    if ranker is not None and ranked:
        for key in CALIBRATED:
            if key in hits and MEASURED_VALUES.get(key, hits[key].value) == hits[key].value:
                hit = hits[key]
                hits[key] = Found(hit.value, ranker.confidence(key, hit.confidence), hit.row)
    total = hits.get("total")
    breakdown = find_breakdown(rows, Decimal(str(total.value)) if total else None)
    if breakdown is not None:
        hits.update(breakdown.found)
        if total is not None and "subtotal" in breakdown.found and not ranked:
            # Subtotal + tax = total: the printed arithmetic confirms the total read.
            hits["total"] = Found(total.value, min(0.95, total.confidence + 0.15), total.row)

    def value(key: str) -> object:
        hit = hits.get(key)
        return hit.value if hit else None

    invoice = Invoice.model_validate(
        {
            "document_type": value("document_type"),
            "invoice_number": value("invoice_number"),
            "invoice_date": value("invoice_date"),
            "currency": value("currency"),
            "vendor": Party.model_validate(
                {
                    "name": value("vendor.name"),
                    "address": value("vendor.address"),
                    "tax_id": value("vendor.tax_id"),
                }
            ),
            "total": value("total"),
            # On a receipt what is paid is the total.
            "amount_due": value("total"),
            "subtotal": value("subtotal"),
            "total_tax": value("total_tax"),
            "line_items": breakdown.items if breakdown else [],
        }
    )
    confidence = {key: round(hit.confidence, 2) for key, hit in hits.items()}
    if "total" in confidence:
        confidence["amount_due"] = confidence["total"]
    return ParsedReceipt(invoice, confidence, _evidence(hits, breakdown), raw)


def _evidence(hits: dict[str, Found], breakdown: Breakdown | None) -> dict[str, Evidence]:
    """Each value's row: every field read from one, and each line item's values from theirs."""
    sources = {key: hit.row for key, hit in hits.items() if hit.row is not None}
    sources.pop("line_items", None)  # a list, not a value: its items have their own rows
    if "total" in sources:
        sources["amount_due"] = sources["total"]
    items = zip(breakdown.items, breakdown.item_rows, strict=True) if breakdown else ()
    for index, (item, row) in enumerate(items):
        sources.update({f"line_items[{index}].{name}": row for name in item})
    return {
        key: Evidence(page=row.page, bbox=row.area, text=row.text) for key, row in sources.items()
    }


def _ruled(rows: Sequence[Row]) -> dict[str, Found | None]:
    vendor = find_vendor(rows)
    return {
        "vendor.name": vendor,
        "vendor.address": find_address(rows, vendor),
        "total": find_total(rows),
    }


def _ranked(rows: Sequence[Row], ranker: Ranker) -> dict[str, Found | None]:
    """The ranker's picks, each with its softmax share as the raw score to calibrate."""
    vendor = ranker.pick("vendor.name", vendor_candidates(rows))
    address = (
        ranker.pick("vendor.address", address_candidates(rows, vendor.candidate.rows))
        if vendor is not None
        else None
    )
    return {
        "vendor.name": _from_pick(vendor),
        "vendor.address": _from_pick(address),
        "total": _from_pick(ranker.pick("total", total_candidates(rows))),
    }


def _from_pick(pick: Pick | None) -> Found | None:
    """The pick with its softmax share times its rows' lowest OCR score as the raw score: the
    share says the rows were the right choice, the OCR score whether they were read right (out
    of fold it tells right from wrong vendor names where the share alone cannot)."""
    if pick is None or not pick.candidate.value:
        return None
    row = _merge(pick.candidate.rows)
    return Found(pick.candidate.value, pick.share * max(0.0, min(row.score, 1.0)), row)


# --- subtotal, tax and line items -----------------------------------------------------------

_QUANTITY = re.compile(r"(?<![\d.,])(\d{1,4}(?:[.,]\d{1,3})?)\s*[xX]?\s*$")
_TOLERANCE = Decimal("0.01")


@dataclass
class Breakdown:
    items: list[dict[str, str]]
    found: dict[str, Found]
    item_rows: list[Row] = field(default_factory=list)  # the row each item was read from


def find_breakdown(rows: Sequence[Row], total: Decimal | None) -> Breakdown | None:
    """Subtotal, tax and line items, reported only when they agree with each other and the
    total: a partial table or a misread amount is left out rather than sent to the books."""
    if total is None:
        return None
    subtotal = _labelled_amount(rows, SUBTOTAL, None)
    tax = _labelled_amount(rows, TAX_ROW, NOT_TAX_ROW)
    items, item_rows = line_items(rows)
    item_sum = sum((Decimal(item["amount"]) for item in items), Decimal(0))
    found: dict[str, Found] = {}
    if subtotal is not None and tax is not None and abs(subtotal[0] + tax[0] - total) <= _TOLERANCE:
        found["subtotal"] = Found(money(subtotal[0]), 0.85 * _ocr_factor(subtotal[1]), subtotal[1])
        found["total_tax"] = Found(money(tax[0]), 0.85 * _ocr_factor(tax[1]), tax[1])
    target = subtotal[0] if subtotal is not None and "subtotal" in found else total
    if items and abs(item_sum - target) <= _TOLERANCE:
        confidence = 0.85 * min(_ocr_factor(row) for row in item_rows)
        found["line_items"] = Found(len(items), confidence, _merge(item_rows))
    else:
        items, item_rows = [], []
    return Breakdown(items, found, item_rows) if found else None


def _labelled_amount(
    rows: Sequence[Row], label: re.Pattern[str], exclude: re.Pattern[str] | None
) -> tuple[Decimal, Row] | None:
    for row in reversed(rows):  # the summary sits at the bottom
        if label.search(row.text) and not (exclude and exclude.search(row.text)):
            values = amounts(row.text)
            if values:
                return values[-1], row
    return None


def line_items(rows: Sequence[Row]) -> tuple[list[dict[str, str]], list[Row]]:
    """Rows that read `description  quantity  unit price  amount` with quantity × unit price =
    amount: the arithmetic is what tells an item row from an address or a phone number."""
    items: list[dict[str, str]] = []
    used: list[Row] = []
    for row in rows:
        text = row.text
        printed = printed_amounts(text)
        if len(printed) < 2 or SUBTOTAL.search(text) or TAX_ROW.search(text):
            continue
        unit_price, amount = printed[-2].value, printed[-1].value
        head = text[: printed[-2].start].rstrip(" |\t")
        quantity_match = _QUANTITY.search(head)
        if quantity_match is None:
            continue
        try:
            quantity = Decimal(quantity_match.group(1).replace(",", "."))
        except InvalidOperation:
            continue
        if quantity <= 0 or abs(quantity * unit_price - amount) > _TOLERANCE:
            continue
        description = head[: quantity_match.start()].strip(" |\t")
        if not any(c.isalpha() for c in description):
            continue
        items.append(
            {
                "description": description,
                "quantity": format(quantity.normalize(), "f")
                if quantity == quantity.to_integral()
                else str(quantity),
                "unit_price": money(unit_price),
                "amount": money(amount),
            }
        )
        used.append(row)
    return items, used


# --- vendor ---------------------------------------------------------------------------------

_VENDOR_ROWS = 8


def find_vendor(rows: Sequence[Row]) -> Found | None:
    """A company suffix in the top rows is a strong sign; else the first name-like top row."""
    top = [row for row in rows if row.page == rows[0].page][:_VENDOR_ROWS] if rows else []
    for index, row in enumerate(top):
        if not (name_like(row.text) and COMPANY_SUFFIX.search(row.text)):
            continue
        name, parts = row.text, [row]
        before = top[index - 1] if index > 0 else None
        after = top[index + 1] if index + 1 < len(top) else None
        if before is not None and name_like(before.text) and continues(row.text):
            # "PASARAYA BORONG PINTAR" / "SDN BHD": the name wraps onto a second row.
            name, parts = f"{before.text} {row.text}", [before, row]
        elif after is not None and name_like(after.text) and continues(after.text):
            name, parts = f"{row.text} {after.text}", [row, after]
        return Found(clean_name(name), 0.75 * _ocr_factor(parts[-1]), _merge(parts))
    for row in top:
        if name_like(row.text):
            return Found(clean_name(row.text), 0.4 * _ocr_factor(row), row)
    return None


def _merge(rows: Sequence[Row]) -> Row:
    boxes = [row.box for row in rows if row.box is not None]
    box = (
        (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
         max(b[3] for b in boxes))
        if boxes
        else None
    )  # fmt: skip
    pieces = tuple(piece for row in rows for piece in row.pieces)
    areas = tuple(area for row in rows for area in row.areas)
    return Row(rows[0].page, pieces, box, min(row.score for row in rows), areas)


# --- vendor address -------------------------------------------------------------------------

# Rows that end the header's address block: contact lines, tax numbers, the document's title.
_ADDRESS_ROWS = 5


def find_address(rows: Sequence[Row], vendor: Found | None) -> Found | None:
    """The rows under the vendor's name up to the first contact or tax line."""
    if vendor is None or vendor.row is None or not rows:
        return None
    top = [row for row in rows if row.page == vendor.row.page][: _VENDOR_ROWS + _ADDRESS_ROWS]
    start = _first_row_below(top, vendor.row)
    if start is None:
        return None
    parts = _address_block(_skip_to_address(top[start:]))
    if not parts:
        return None
    # A trailing full stop is printed, and part of the address; a dangling comma is not.
    text = commas(" ".join(" ".join(row.text.split()) for row in parts).strip(" ,"))
    # Several rows each matching address words is a good sign; one row alone is a guess.
    confidence = (0.75 if len(parts) >= 2 else 0.5) * _ocr_factor(_merge(parts))
    return Found(text, confidence, _merge(parts))


def _skip_to_address(rows: Sequence[Row]) -> Sequence[Row]:
    """The rows from the first one with an address word on; none if a contact line comes first.

    Registration and GST numbers and printing times are skipped: they often stand between the
    name and the address."""
    for index, row in enumerate(rows):
        text = row.text.strip()
        if REGISTRATION_ROW.search(text) or GST.search(text) or TIME.search(text):
            continue
        if AFTER_ADDRESS.search(text):
            return ()
        if ADDRESS_WORD.search(text):
            return rows[index:]
    return ()


def _address_block(rows: Sequence[Row]) -> list[Row]:
    """The address from its first row: at most `_ADDRESS_ROWS` rows, ended by a contact line, a
    printing time or the row after the postcode."""
    parts: list[Row] = []
    for row in rows:
        text = row.text.strip()
        if len(parts) == _ADDRESS_ROWS or AFTER_ADDRESS.search(text) or TIME.search(text):
            break
        if parts and POSTCODE.search(parts[-1].text):
            # After the postcode only a state or country line still belongs to the address.
            if ADDRESS_WORD.search(text) and not any(c.isdigit() for c in text):
                parts.append(row)
            break
        parts.append(row)
    return parts


def _first_row_below(rows: Sequence[Row], vendor: Row) -> int | None:
    vendor_box = vendor.box
    if vendor_box is not None:
        return next(
            (
                i
                for i, row in enumerate(rows)
                # Printed lines overlap their neighbours' boxes: compare centres with the edge.
                if row.box is not None and (row.box[1] + row.box[3]) / 2 > vendor_box[3]
            ),
            None,
        )
    # A text layer has no boxes: the rows after the last one that is part of the name.
    inside = [
        i for i, row in enumerate(rows) if row.text.strip() and row.text.strip() in vendor.text
    ]
    return inside[-1] + 1 if inside and inside[-1] + 1 < len(rows) else None


# --- dates ----------------------------------------------------------------------------------

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
_MON = r"(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\.?"
# A date's last digits end it, unless a printing time follows with no space ("27/06/185:02 PM").
_END = r"(?:(?!\d)|(?=\d{1,2}:\d{2}))"
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"(?<!\d)(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{2}}{_END}|\d(?!\d))"), "ymd"),
    (
        re.compile(rf"(?<![\d/.\-])(\d{{1,2}})([/\-.])(\d{{1,2}})\2(\d{{4}}(?!:)|\d{{2}}{_END})"),
        "dmy",
    ),
    (
        re.compile(rf"(?<!\d)(\d{{1,2}})[\s\-/.]*{_MON}[\s\-/.,]*(\d{{4}}|\d{{2}}(?!\d))", re.I),
        "dMy",
    ),
    (re.compile(rf"\b{_MON}\s+(\d{{1,2}}),?\s+(\d{{4}})", re.I), "Mdy"),
    (re.compile(r"(?<!\d)(\d{2})(\d{2})(20\d{2})(?!\d)"), "dmy-compact"),
)
_DATE_LABEL = re.compile(r"DATE|\bDT\b|TARIKH", re.IGNORECASE)
# A receipt dated further ahead than this is a misread (item codes like "12/72" look like dates).
_MAX_FUTURE = dt.timedelta(days=366)


_NUMERIC_DATE = _DATE_PATTERNS[1][0]


def month_first(rows: Sequence[Row]) -> bool:
    """Whether this document writes numeric dates month-first (01/15/2019).

    Decided per document from its unambiguous dates: a first number over 12 means day-first, a
    second over 12 month-first. Without such a date, day-first, as most of the world prints.
    """
    votes = 0
    for row in rows:
        for match in _NUMERIC_DATE.finditer(row.text):
            first, second = int(match.group(1)), int(match.group(3))
            votes += (second > 12 >= first) - (first > 12 >= second)
    return votes > 0


def find_date(rows: Sequence[Row]) -> Found | None:
    """The best-scored date printed; on a tie the first one."""
    latest = dt.date.today() + _MAX_FUTURE
    us_order = month_first(rows)
    candidates = (
        (score, date, row)
        for row in rows
        for score, date in _scored_dates(row.text, us_order, latest)
    )
    best = max(candidates, key=lambda candidate: candidate[0], default=None)
    if best is None:
        return None
    score, date, row = best
    return Found(date.isoformat(), min(score, 0.9) * _ocr_factor(row), row)


def _scored_dates(text: str, us_order: bool, latest: dt.date) -> Iterator[tuple[float, dt.date]]:
    """Every date a row's text can be read as, no later than `latest`, with its score."""
    labelled = bool(_DATE_LABEL.search(text))
    for pattern, order in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            groups = [g for g in match.groups() if g not in {"/", "-", "."}]
            date = _to_date(groups, "mdy" if us_order and order == "dmy" else order)
            if date is not None and date <= latest:
                after = text[match.end() : match.end() + 8]
                yield _date_score(order, groups, labelled, after), date


def _date_score(order: str, groups: Sequence[str], labelled: bool, after: str) -> float:
    """How much a date read looks like the document's date: a label on its row, a four-digit
    last group and a printing time right after it speak for it; digits run together
    ("15032024") against it, as any eight digits ending in 20xx read so."""
    score = 0.55
    score += 0.15 if labelled else 0.0
    score += 0.1 if len(groups[-1]) == 4 and order != "dmy-compact" else 0.0
    score += 0.1 if TIME.search(after) else 0.0
    score -= 0.15 if order == "dmy-compact" else 0.0
    return score


def _to_date(groups: Sequence[str], order: str) -> dt.date | None:
    try:
        if order == "ymd":
            year, month, day = int(groups[0]), int(groups[1]), int(groups[2])
        elif order in {"dmy", "dmy-compact", "mdy"}:
            day, month, year = int(groups[0]), int(groups[1]), int(groups[2])
            if order == "mdy":
                day, month = month, day
            if month > 12 >= day:  # the other order after all
                day, month = month, day
        elif order == "dMy":
            day, month, year = int(groups[0]), _MONTHS[groups[1][:3].upper()], int(groups[2])
        else:
            month, day, year = _MONTHS[groups[0][:3].upper()], int(groups[1]), int(groups[2])
        year = year + 2000 if year < 100 else year
        if not 1990 <= year <= 2100:
            return None
        return dt.date(year, month, day)
    except (ValueError, KeyError):
        return None


# --- receipt / invoice number ---------------------------------------------------------------

_NUMBER = re.compile(
    r"(?:INVOICE|INV|RECEIPT|RCPT|BILL|DOC(?:UMENT)?|TRANS(?:ACTION)?|SLIP|CHECK|ORDER)\s*"
    r"(?:NO|NUMBER|NUM|#)?\.?\s*[:#.]?\s*#?\s*([A-Z0-9][A-Z0-9\-/]{2,})",
    re.IGNORECASE,
)


def find_number(rows: Sequence[Row]) -> Found | None:
    for row in rows:
        match = _NUMBER.search(row.text)
        if match and any(c.isdigit() for c in match.group(1)):
            return Found(match.group(1).upper(), 0.6 * _ocr_factor(row), row)
    return None


# --- total ----------------------------------------------------------------------------------

# (pattern, priority): a stronger label wins over a weaker one.
_LABEL_ONLY = re.compile(r"^[^\d]*$")


def find_total(rows: Sequence[Row]) -> Found | None:
    candidates: list[tuple[int, Decimal, Row, bool]] = []
    for index, row in enumerate(rows):
        priority = total_priority(row.text)
        if priority == 0:
            continue
        values = amounts(row.text)
        if values:
            candidates.append((priority, values[-1], row, True))
        elif index + 1 < len(rows) and (following := amounts(rows[index + 1].text)):
            # The amount was read onto the next row (skewed scan) or the label stands alone.
            candidates.append((priority, following[-1], row, False))
    paid = _paid_minus_change(rows)
    if not candidates:
        if paid is not None and paid > 0:
            return Found(money(paid), 0.35)
        return _largest_amount(rows)
    top = max(priority for priority, *_ in candidates)
    # Among the strongest labels the largest amount: totals include tax and service.
    priority, amount, row, same_row = max(
        (c for c in candidates if c[0] == top), key=lambda c: (c[1], c[3])
    )
    confidence = 0.45 + 0.1 * priority + (0.1 if same_row else -0.1)
    if paid is not None:
        confidence += 0.2 if paid == amount else -0.15
    return Found(money(amount), max(0.1, min(confidence, 0.95)) * _ocr_factor(row), row)


def _largest_amount(rows: Sequence[Row]) -> Found | None:
    """The last resort without any total label: the largest amount, reported as a guess."""
    best: tuple[Decimal, Row] | None = None
    for row in rows:
        for value in amounts(row.text):
            if value > 0 and (best is None or value > best[0]):
                best = (value, row)
    return Found(money(best[0]), 0.2 * _ocr_factor(best[1]), best[1]) if best else None


def _paid_minus_change(rows: Sequence[Row]) -> Decimal | None:
    """Cash tendered minus change given: an independent witness of the total."""
    paid = change = None
    for row in rows:
        values = amounts(row.text)
        if not values:
            continue
        if paid is None and PAID.search(row.text) and not CHANGE.search(row.text):
            paid = values[-1]
        elif paid is not None and change is None and CHANGE.search(row.text):
            change = values[-1]
    if paid is None:
        return None
    return paid - (change or Decimal(0))


# --- currency, tax id, type -----------------------------------------------------------------

_CODES = ("MYR", "SGD", "USD", "EUR", "GBP", "CHF", "AUD", "CAD", "JPY", "IDR", "THB")


def find_currency(rows: Sequence[Row]) -> Found | None:
    text = "\n".join(row.text for row in rows)
    for code in _CODES:
        if re.search(rf"\b{code}\b", text):
            return Found(code, 0.8)
    if re.search(r"\bRM\s?\d|\bRM\b|\(RM\)", text):
        return Found("MYR", 0.85)
    if "€" in text:
        return Found("EUR", 0.8)
    if "£" in text:
        return Found("GBP", 0.8)
    if "$" in text:
        # "$" alone names no country; printed on a Malaysian receipt it means ringgit.
        return Found("MYR", 0.5) if MALAYSIA.search(text) else Found("USD", 0.3)
    if MALAYSIA.search(text):
        return Found("MYR", 0.45)
    return None


_TAX_ID = re.compile(
    r"(?:GST|SST|VAT|TAX)\s*(?:REG(?:ISTRATION)?|ID|NO)?\.?\s*(?:NO|ID|#)?\.?\s*[:#.]?\s*"
    r"([A-Z]{0,2}[\d][\d\s\-]{5,}\d)",
    re.IGNORECASE,
)


def find_tax_id(rows: Sequence[Row]) -> Found | None:
    for row in rows:
        match = _TAX_ID.search(row.text)
        if match:
            return Found(re.sub(r"[\s\-]", "", match.group(1)), 0.6 * _ocr_factor(row), row)
    return None


# A bill asking for payment: a due date, payment terms, bank details for the transfer.
_BILL = re.compile(
    r"DUE\s*DATE|(?<!CHANGE\s)\bDUE\s*:|PAYMENT\s*TERMS|TERMS\s*OF\s*PAYMENT|INVOICE\s*TO|"
    r"SHIP\s*TO|\bIBAN\b|PLEASE\s*PAY|PAYABLE\s*(BY|WITHIN)|NET\s*\d+\s*DAYS"
)
# A payment made there and then: cash tendered, change given, "PAID BY".
_PAID_AT_TILL = re.compile(r"\b(CASH|CHANGE|TUNAI|BAKI|TENDERED|PAID)\b")
# Printed by a till; "TAX INVOICE" is printed on Malaysian till receipts too (a simplified GST
# invoice), so that word alone does not make an invoice.
_TILL = re.compile(r"RECEIPT|\b(CASHIER|COUNTER|TABLE|PAX|GUEST)\b|THANK\s*YOU|COME\s*AGAIN")


def find_document_type(rows: Sequence[Row]) -> Found | None:
    text = " ".join(row.text for row in rows).upper()
    if "CREDIT NOTE" in text:
        return Found("credit_note", 0.7)
    if "INVOICE" in text and _BILL.search(text):
        return Found("invoice", 0.6)
    if _PAID_AT_TILL.search(text):
        return Found("receipt", 0.7)
    if "INVOICE" in text and not _TILL.search(text):
        return Found("invoice", 0.5)
    return Found("receipt", 0.6) if rows else None


def _ocr_factor(row: Row) -> float:
    # A low recognition score on the source row lowers confidence in what was read from it.
    return 0.5 + 0.5 * max(0.0, min(row.score, 1.0))
