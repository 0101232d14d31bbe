"""An e-invoice into an Extraction: provider, confidence, findings and coded failures."""

from __future__ import annotations

import pytest

from contracts import ErrorCode
from services.extractor.einvoice.attachments import EInvoiceSource, find_einvoice
from services.extractor.einvoice.reader import read_source
from services.worker.errors import PermanentError
from testkit.einvoices import einvoice_xml, sample_invoice


def test_exact_values_confidence_one() -> None:
    source = find_einvoice(einvoice_xml(syntax="ubl"))
    assert source is not None
    extraction = read_source(source)
    assert extraction.provider == "einvoice" and extraction.usage.input_tokens == 0
    assert extraction.invoice == sample_invoice()
    assert set(extraction.confidence.values()) == {1.0}
    assert extraction.einvoice is not None
    assert (extraction.einvoice.syntax, extraction.einvoice.embedded) == ("UBL", False)
    assert [i for i in extraction.einvoice.issues if i.severity == "error"] == []


def test_malformed_xml_is_invalid_einvoice() -> None:
    with pytest.raises(PermanentError) as caught:
        read_source(EInvoiceSource(b"<Invoice", embedded=False))
    assert caught.value.code == ErrorCode.INVALID_EINVOICE
