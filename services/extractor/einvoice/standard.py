"""The standard's own checks, offline, on artifacts kept in `standards/` (README there):

- XSD: UBL 2.1 (OASIS) and CII D22B as restricted by Factur-X 1.09 EN 16931;
- EN 16931 business rules: the official CEN Schematron compiled to XSLT (UBL:
  `EN16931-UBL-validation.xslt`; CII: Factur-X 1.09's EN 16931 Schematron, which carries the CEN
  CII rules), run by Saxon-HE (`saxonche`, XSLT 3);
- XRechnung (BR-DE-*): the KoSIT Schematron is not in any package reachable here, so the rules
  of `xrechnung.py` are code, run when BT-24 names XRechnung.

Findings are validation issues keyed by the rule id (`BR-CO-15`, `BR-DE-1`, `xsd`).
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any

from lxml import etree

from contracts import ValidationIssue
from contracts.einvoice import Syntax
from services.extractor.einvoice.xml import ParsedXml

log = logging.getLogger(__name__)

STANDARDS = Path(__file__).parent / "standards"
XSD = {
    "CII": STANDARDS / "cii" / "Factur-X_EN16931.xsd",
    "UBL-Invoice": STANDARDS / "ubl" / "maindoc" / "UBL-Invoice-2.1.xsd",
    "UBL-CreditNote": STANDARDS / "ubl" / "maindoc" / "UBL-CreditNote-2.1.xsd",
}
SCHEMATRON = {
    "CII": STANDARDS / "cii" / "FACTUR-X_EN16931.xslt",
    "UBL": STANDARDS / "ubl" / "EN16931-UBL-validation.xslt",
}
SVRL = "http://purl.oclc.org/dsdl/svrl"
# Saxon's processor is one per process and not to be shared across threads without care.
_SAXON_LOCK = threading.Lock()
MAX_ISSUES = 50


def _schema_key(parsed: ParsedXml) -> str:
    return "CII" if parsed.syntax == "CII" else f"UBL-{etree.QName(parsed.root).localname}"


@functools.cache
def _schema(key: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD[key])))


def xsd_issues(parsed: ParsedXml) -> list[ValidationIssue]:
    schema = _schema(_schema_key(parsed))
    if schema.validate(parsed.root):
        return []
    issues = []
    entries: list[Any] = list(schema.error_log)  # type: ignore[call-overload]
    for entry in entries[:MAX_ISSUES]:
        issues.append(
            ValidationIssue(
                code="xsd",
                field=None,
                message=f"Not valid against the {parsed.syntax} schema (line {entry.line}): "
                f"{entry.message[:300]}",
                severity="error",
            )
        )
    return issues


class _Schematron:
    def __init__(self) -> None:
        from saxonche import PySaxonProcessor

        self._processor = PySaxonProcessor(license=False)
        self._compiler = self._processor.new_xslt30_processor()
        self._compiled: dict[Syntax, Any] = {}

    def executable(self, syntax: Syntax) -> Any:
        """The compiled stylesheet: seconds the first time, then kept."""
        if syntax not in self._compiled:
            path = str(SCHEMATRON[syntax])
            self._compiled[syntax] = self._compiler.compile_stylesheet(stylesheet_file=path)
        return self._compiled[syntax]

    def run(self, syntax: Syntax, xml: str) -> str:
        node = self._processor.parse_xml(xml_text=xml)
        return str(self.executable(syntax).transform_to_string(xdm_node=node))


@functools.cache
def _schematron() -> _Schematron:
    return _Schematron()


# Factur-X's own rules (FX-SCH-*) hold for Factur-X documents; a CII XRechnung names its CIUS in
# BT-24, which they refuse (FX-SCH-A-000556), so only the CEN rules apply to it.
FACTUR_X_RULES = "FX-SCH-"


def schematron_issues(parsed: ParsedXml, *, factur_x: bool = True) -> list[ValidationIssue]:
    # The tree lxml parsed (no DTD, no entities) is what Saxon reads: never the raw upload.
    xml = etree.tostring(parsed.root, encoding="unicode")
    with _SAXON_LOCK:
        report = _schematron().run(parsed.syntax, xml)
    svrl = etree.fromstring(report.encode(), parser=etree.XMLParser(resolve_entities=False))
    issues = []
    for failed in svrl.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        rule = failed.get("id") or "schematron"
        if not factur_x and rule.startswith(FACTUR_X_RULES):
            continue
        flag = (failed.get("flag") or "fatal").lower()
        text = " ".join("".join(str(part) for part in failed.itertext()).split())
        issues.append(
            ValidationIssue(
                code=rule,
                field=None,
                message=f"{text[:400]} (at {failed.get('location', '')[:200]})",
                severity="warning" if flag in ("warning", "information") else "error",
            )
        )
    return issues[:MAX_ISSUES]


def warm_up() -> None:
    """Compile both Schematron stylesheets and load the schemas (seconds) before the first task."""
    for key in XSD:
        _schema(key)
    with _SAXON_LOCK:
        checker = _schematron()
        checker.executable("UBL")
        checker.executable("CII")
