"""What receipt text looks like: money amounts, company names, address and contact rows,
total labels. Shared by the rules (`receipt_parser`) and the ranker's features
(`receipt_candidates`)."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from contracts import PrintedAmount, iter_amounts


def amounts(text: str) -> list[Decimal]:
    """Every money-looking value (two decimals) in a row, left to right."""
    # OCR on thermal paper sets a space beside the decimal point: "12 .50", "12. 50".
    return [
        printed.value for printed in printed_amounts(text.replace(" .", ".").replace(". ", "."))
    ]


def printed_amounts(text: str) -> list[PrintedAmount]:
    # A row joins its OCR boxes with spaces, so a space separates columns, never thousands.
    return list(iter_amounts(text, space_groups=False))


SUBTOTAL = re.compile(r"\bSUB\s*-?\s*TOTAL\b", re.IGNORECASE)
TAX_ROW = re.compile(r"\b(VAT|GST|SST|TAX|MWST|UST)\b", re.IGNORECASE)
NOT_TAX_ROW = re.compile(r"TOTAL|INVOICE|\bREG\b|\bNO\b|\bID\b|INCL", re.IGNORECASE)

COMPANY_SUFFIX = re.compile(
    r"\b(SDN\.?\s*BHD|S/B|BHD|BERHAD|ENTERPRISE|TRADING|RESTAURANT|RESTORAN|CAFE|BISTRO|STORES?|"
    r"MART|BOOKS?|BAKERIES|HARDWARE|FLORIST|COMPANY|CO\.|GMBH|LTD|LIMITED|INC|LLC|PLC|SHOP)\b",
    re.IGNORECASE,
)
NOT_A_NAME = re.compile(
    r"(TAX\s*INVOICE|INVOICE|RECEIPT|WELCOME|\bTEL\b|\bFAX\b|\bGST\b|\bREG\b|\bNO\s*[:.]|"
    r"DATE|CASHIER|TABLE|JALAN|\bJLN\b|\bLOT\b|@|WWW\.|HTTP|COPY|CHECK)",
    re.IGNORECASE,
)

CONTINUATION = re.compile(
    r"^(&|AND\b|CO\.|\(M\)|SDN|BHD|S/B|TRADING|ENTERPRISE|GMBH|LTD|LIMITED|INC)", re.IGNORECASE
)
REGISTRATION = re.compile(r"\s*\((?=[^)]*\d)[^)]*\)?\s*$|\s+\d{5,}-[A-Z]\s*$")
# The company-form suffixes as OCR misreads them: "SON BHD", "SDN DHD", "5/B".
_SDN_BHD = re.compile(r"\b(?:S[DOB]?N|SDM)(\.?\s*)(?:[BD38]H[DO])\b")
_S_B = re.compile(r"\b[5S]/[B8]\b")
# What stands before a name without being part of it: "#000002", "OWNED BY:".
_NAME_PREFIX = re.compile(r"^\s*(#\S*\s+|OWN(?:ED)?\s+BY\s*:?\s*)", re.I)
# A registration label whose number is printed on the next row: "... SDN BHD CO.NO.".
_REGISTRATION_LABEL = re.compile(
    r"\s+(?:CO|COMPANY)\.?\s*(?:REG(?:ISTRATION)?\.?\s*)?NO\.?\s*$", re.I
)
# OCR reads the gap between two words as "_", or glues a hyphen to the suffix: "HUAT_HARDWARE",
# "INTERNATIONAL-SDN BHD".
_GLUED = re.compile(r"(?<=[A-Z])_(?=[A-Z])|(?<=[A-Z])-(?=SDN\b)", re.I)


def continues(text: str) -> bool:
    return bool(CONTINUATION.match(text.strip()))


def name_like(text: str) -> bool:
    letters = sum(c.isalpha() for c in text)
    return (
        letters >= 3 and letters >= 0.5 * len(text.replace(" ", "")) and not NOT_A_NAME.search(text)
    )


def clean_name(text: str) -> str:
    # Company registration numbers such as "(519537-X)" follow the name but are not part of it.
    text = _NAME_PREFIX.sub("", REGISTRATION.sub("", _REGISTRATION_LABEL.sub("", text)))
    text = _GLUED.sub(" ", text)
    text = _S_B.sub("S/B", _SDN_BHD.sub(lambda m: f"SDN{m.group(1)}BHD", text))
    return " ".join(text.strip(" ,:;*-~'\"_").split())


AFTER_ADDRESS = re.compile(
    r"\b(TEL|FAX|PHONE|H/P|HP|E-?MAIL|SST|TAX|INVOICE|RECEIPT|DATE|CASHIER|WEBSITE)\b|\bGST|@|"
    r"WWW\.|\b\d{2,4}[- ]?\d{3,4}[- ]?\d{4}\b",  # phone numbers
    re.IGNORECASE,
)
GST = re.compile(r"\bGST", re.IGNORECASE)
POSTCODE = re.compile(r"(?<!\d)\d{5}(?!\d)")
# Company registration rows between the name and the address: "(519537-X)", "CO. REG: 123".
REGISTRATION_ROW = re.compile(
    r"^\(?[\dA-Z]{4,}-[A-Z0-9]{1,2}\)?$|\bREG(ISTRATION)?\b|\b(CO|COMPANY|BR)\.?\s*NO\b", re.I
)
ADDRESS_WORD = re.compile(
    r"\d|\b(JALAN|JLN|LORONG|TAMAN|TMN|LOT|NO|BLOK|BLOCK|BANDAR|KAWASAN|STREET|ROAD|AVENUE|"
    r"SELANGOR|JOHOR|KUALA|LUMPUR|PERAK|PAHANG|KEDAH|MELAKA|SABAH|SARAWAK|PENANG|PINANG|"
    r"DARUL|EHSAN|TAKZIM|MALAYSIA)\b",
    re.IGNORECASE,
)

# OCR on thermal paper reads the commas between address parts as full stops ("Lot 38. 39
# Boulevard. Jalan Kenari 5."); a full stop after an abbreviation ("NO. 53", "P.T.") is real.
_STOP_BEFORE_SPACE = re.compile(r"(\S+)\.(?= \S)")
_ABBREVIATIONS = frozenset({"NO", "JLN", "JL", "KG", "BDR", "TMN", "ST", "SG", "DR", "LOT", "P.T"})


def commas(address: str) -> str:
    def fix(match: re.Match[str]) -> str:
        word = match.group(1)
        letters = word.rsplit(" ", 1)[-1].upper()
        if letters in _ABBREVIATIONS or (len(letters) == 1 and letters.isalpha()) or "." in letters:
            return match.group()
        return f"{word},"

    return _STOP_BEFORE_SPACE.sub(fix, address)


TIME = re.compile(r"\d{1,2}:\d{2}")

TOTAL_LABELS: tuple[tuple[re.Pattern[str], int], ...] = (
    (
        re.compile(
            r"(GRAND|NETT?|ROUNDED)\s*TOTAL|TOTAL\s*(AMOUNT|AMT|PAYABLE|DUE)|AMOUNT\s*DUE|"
            r"(AMT|AMOUNT)\s*PAID\s*INC",
            re.I,
        ),
        3,
    ),
    (re.compile(r"TOTAL.*(INCL|INC\.|INCLUSIVE|AFTER|RM)|TOTAL\s*SALES", re.I), 2),
    (re.compile(r"\bTOTAL\b|\bJUMLAH\b", re.I), 1),
)
NOT_TOTAL = re.compile(
    r"SUB[\s\-]*TOTAL|TOTAL\s*(QTY|QUANTITY|ITEM|DISC|SAVING|TAX|GST|EXCL|EXC\b|\(EXCL|POINT)|"
    r"EXCLUDING|TOTAL\s*NO",
    re.IGNORECASE,
)
PAID = re.compile(r"\b(CASH|TUNAI|PAID|TENDERED|PAYMENT|VISA|MASTER|CARD)\b", re.I)
CHANGE = re.compile(r"\b(CHANGE|BAKI|BALANCE)\b", re.I)


def total_priority(text: str) -> int:
    if NOT_TOTAL.search(text):
        return 0
    for pattern, priority in TOTAL_LABELS:
        if pattern.search(text):
            return priority
    return 0


def money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


MALAYSIA = re.compile(r"SDN\.?\s*BHD|\bS/B\b|JALAN|\bJLN\b|MALAYSIA|SELANGOR|KUALA|JOHOR", re.I)


def plain_letters(text: str) -> str:
    """Latin letters without diacritics: on text in a language written without them (Malay,
    English) OCR's "ÁLAM" or "HARDWÀRE" is a misread of ALAM, HARDWARE."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )
