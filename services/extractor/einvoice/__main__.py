"""Check e-invoices offline: `python -m services.extractor.einvoice FILE...` (XML or PDF).

Prints each file's syntax, specification and findings; exits 1 when any file has an error
finding or cannot be read as an e-invoice, else 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.extractor.documents import load_document
from services.extractor.einvoice.attachments import find_einvoice
from services.extractor.einvoice.reader import read_source
from services.pages.render import DocumentLimits
from services.worker.errors import PermanentError


def check(path: Path, *, schematron: bool = True) -> bool:
    """True when the file is an e-invoice without error findings; prints what was found."""
    data = path.read_bytes()
    source = find_einvoice(data)
    if source is None:
        print(f"{path}: no e-invoice (neither UBL/CII XML nor a PDF carrying one)")
        return False
    try:
        texts = (
            [p.text for p in load_document(data, DocumentLimits()).pages] if source.embedded else []
        )
        extraction = read_source(source, texts, schematron=schematron)
    except PermanentError as exc:
        print(f"{path}: {exc.code}: {exc}")
        return False
    info = extraction.einvoice
    assert info is not None
    where = f", embedded as {source.attachment}" if source.embedded else ""
    print(f"{path}: {info.syntax}, {info.specification}{where}")
    for issue in info.issues:
        field = f" [{issue.field}]" if issue.field else ""
        print(f"  {issue.severity} {issue.code}{field}: {issue.message}")
    return not any(issue.severity == "error" for issue in info.issues)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--no-schematron", dest="schematron", action="store_false")
    args = parser.parse_args(argv)
    results = [check(path, schematron=args.schematron) for path in args.files]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
