"""What makes two saved invoices the same: normalised vendor and number, or the same file.

Pure functions: the repository stores the keys in their own columns and looks them up.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from contracts import ValidationIssue, ValidationReport

# Legal forms that one document prints and another leaves out ("ACME GmbH" vs "Acme").
_LEGAL_FORMS = """
    ab ag as bhd bv co company corp corporation gmbh inc incorporated kg kft llc llp ltd
    limited nv oy plc pte pty sa sarl sas sdn sl spa srl ug
"""
LEGAL_FORMS = frozenset(_LEGAL_FORMS.split())
_WORDS = re.compile(r"[^\W_]+")

DuplicateReason = Literal["number", "file"]


def _words(text: str) -> list[str]:
    # NFKD then dropping marks: "Müller" and "Muller" are one vendor.
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _WORDS.findall(plain)


def vendor_key(name: str | None) -> str:
    """ "ACME GmbH", "Acme Gmbh." and "acme" give "acme"; a name of legal forms only stays."""
    words = _words(name or "")
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    return "".join(words)


def number_key(number: str | None) -> str:
    """ "INV-0042", "inv 0042" and "INV0042" give "inv0042"."""
    return "".join(_words(number or ""))


def duplicate_finding(original_id: str, reason: DuplicateReason) -> ValidationIssue:
    if reason == "file":
        field, what = None, "The same file"
    else:
        field, what = "invoice_number", "An invoice with this vendor and number"
    return ValidationIssue(
        code="duplicate_invoice",
        field=field,
        message=f"{what} was saved before as {original_id}.",
        severity="warning",
    )


def with_warnings(report: ValidationReport, warnings: list[ValidationIssue]) -> ValidationReport:
    """The report with more warnings: a valid invoice then needs a person to look."""
    if not warnings:
        return report
    status = "needs_review" if report.status == "valid" else report.status
    return ValidationReport(status=status, issues=[*report.issues, *warnings])


def flag_duplicate(
    report: ValidationReport, original_id: str, reason: DuplicateReason
) -> ValidationReport:
    return with_warnings(report, [duplicate_finding(original_id, reason)])


def duplicate_warnings(report: ValidationReport) -> list[ValidationIssue]:
    return [issue for issue in report.issues if issue.code == "duplicate_invoice"]
