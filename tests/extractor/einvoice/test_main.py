"""The offline checker's command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.extractor.einvoice.__main__ import main
from testkit.einvoices import einvoice_xml, hybrid_pdf, sample_invoice, visible_lines


def test_clean_files_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xml = tmp_path / "invoice.xml"
    xml.write_bytes(einvoice_xml(syntax="ubl"))
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(hybrid_pdf(einvoice_xml(), visible_lines(sample_invoice())))
    assert main([str(xml), str(pdf)]) == 0
    out = capsys.readouterr().out
    assert "UBL, urn:cen.eu:en16931:2017" in out and "embedded as factur-x.xml" in out


def test_findings_and_broken_files_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(einvoice_xml(sample_invoice(total_tax="1.00"), "cii"))
    broken = tmp_path / "broken.xml"
    broken.write_bytes(einvoice_xml()[:500])
    assert main([str(bad)]) == 1
    assert "error BR-CO-14" in capsys.readouterr().out
    assert main([str(broken)]) == 1
    assert (
        "invalid_einvoice: the e-invoice XML is malformed or truncated" in capsys.readouterr().out
    )
