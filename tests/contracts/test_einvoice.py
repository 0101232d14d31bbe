"""The BT mapping: type codes, and docs/einvoices.md's table rendered from the code."""

from __future__ import annotations

from pathlib import Path

from contracts.einvoice import (
    HEADER_TERMS,
    LINE_TERMS,
    LINES,
    PARTIES,
    TAX_BREAKDOWN,
    TAX_TERMS,
    TYPE_CODE,
    Term,
    document_type_of,
    type_code_of,
)

REPO = Path(__file__).resolve().parents[2]
TABLE_START = "<!-- bt-table: generated from contracts/einvoice.py -->"
TABLE_END = "<!-- /bt-table -->"


def test_type_codes() -> None:
    assert document_type_of("380") == "invoice" and document_type_of("384") == "invoice"
    assert document_type_of("381") == "credit_note" and document_type_of("396") == "credit_note"
    assert document_type_of(None) is None
    assert (type_code_of("credit_note"), type_code_of("invoice"), type_code_of(None)) == (
        "381",
        "380",
        "380",
    )


def _row(term: Term, field: str, cii_prefix: str = "", ubl_prefix: str = "") -> str:
    cii = f"{cii_prefix}/{term.cii}" if cii_prefix else term.cii
    ubl = f"{ubl_prefix}/{term.ubl}" if ubl_prefix else term.ubl
    # A union (`a|b`) is escaped: a bare bar would end the table cell.
    return f"| {term.bt} | `{field}` | `{_cell(cii)}` | `{_cell(ubl)}` |"


def _cell(path: str) -> str:
    return path.replace("|", "\\|")


def bt_table() -> str:
    rows = ["| BT | field | CII (from the root) | UBL (from the root) |", "|---|---|---|---|"]
    rows.append(_row(TYPE_CODE, "document_type"))
    rows += [_row(term, term.field) for term in HEADER_TERMS]
    for party in PARTIES:
        rows += [
            _row(term, f"{party.role}.{term.field}", party.cii, party.ubl) for term in party.terms
        ]
        address = "`, `".join(part.rsplit("/", 1)[-1] for part in party.address_cii)
        ubl_address = "`, `".join(part.rsplit("/", 1)[-1] for part in party.address_ubl)
        rows.append(
            f"| {party.group} address | `{party.role}.address` | `{address}` | `{ubl_address}` |"
        )
    rows += [
        _row(t, f"tax_details[].{t.field}", TAX_BREAKDOWN.cii, TAX_BREAKDOWN.ubl) for t in TAX_TERMS
    ]
    rows += [_row(t, f"line_items[].{t.field}", LINES.cii, LINES.ubl) for t in LINE_TERMS]
    return "\n".join(rows)


def test_docs_table_is_the_code() -> None:
    text = (REPO / "docs" / "einvoices.md").read_text()
    documented = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    assert documented == bt_table(), "regenerate: python -m tests.contracts.test_einvoice"


if __name__ == "__main__":
    print(bt_table())
