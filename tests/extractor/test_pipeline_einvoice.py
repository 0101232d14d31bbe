"""The extract step's e-invoice hook: an XML upload or a hybrid PDF is read from its XML, with
no model call, whatever provider the options name; a broken one ends with invalid_einvoice."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest

from contracts import ErrorCode, ExtractInvoice, ProcessingOptions, ValidateInvoice
from contracts.pipeline import EXTRACT
from services.extractor.pipeline import ExtractionPipeline
from services.extractor.settings import ExtractorSettings
from services.worker.errors import PermanentError
from testkit.einvoices import einvoice_xml, hybrid_pdf, sample_invoice, visible_lines
from tests.extractor.test_pipeline import StubProvider
from tests.support.stages import StepRun

PUBLIC = "http://localhost:8000"
XML = einvoice_xml(syntax="ubl")
HYBRID = hybrid_pdf(einvoice_xml(syntax="cii"), visible_lines(sample_invoice()))
PLANTED = hybrid_pdf(
    einvoice_xml(syntax="cii"),
    visible_lines(sample_invoice(invoice_number="RE-2026-9999", total="1.00", amount_due="1.00")),
    attachment="ZUGFeRD-invoice.xml",
)
BROKEN = XML[: len(XML) // 2]
BLOBS = {hashlib.sha256(data).hexdigest(): data for data in (XML, HYBRID, PLANTED, BROKEN)}


async def read_blob(blob_id: str, max_bytes: int) -> bytes | None:
    return BLOBS.get(blob_id)


async def run(data: bytes, provider: str = "openai") -> StepRun:
    cmd = ExtractInvoice(
        task_id=f"task_{uuid.uuid4().hex}",
        filename="invoice",
        blob_url=f"{PUBLIC}/blobs/{hashlib.sha256(data).hexdigest()}",
        options=ProcessingOptions(model_provider=provider),  # type: ignore[arg-type]
    )
    step_run = StepRun(EXTRACT)
    openai = StubProvider("openai")
    async with httpx.AsyncClient() as http:
        pipeline = ExtractionPipeline(
            ExtractorSettings(public_url=PUBLIC), read_blob, {"openai": openai}, http
        )
        await step_run(pipeline.handle, cmd)
    assert openai.calls == []
    return step_run


def sent(step_run: StepRun) -> ValidateInvoice:
    [(_, body, _)] = step_run.published
    return ValidateInvoice.model_validate_json(body)


async def test_an_xml_upload_is_read_without_a_model() -> None:
    step_run = await run(XML)
    extraction = sent(step_run).extraction
    assert extraction.provider == "einvoice"
    assert extraction.invoice == sample_invoice()
    assert extraction.einvoice is not None and not extraction.einvoice.embedded
    assert step_run.updates[1].message == "Fetched an e-invoice (XML)"


@pytest.mark.parametrize("provider", ["openai", "local"])
async def test_a_hybrid_pdf_is_read_from_its_xml(provider: str) -> None:
    extraction = sent(await run(HYBRID, provider)).extraction
    assert extraction.provider == "einvoice" and extraction.invoice == sample_invoice()
    assert extraction.einvoice is not None and extraction.einvoice.embedded
    assert not [i for i in extraction.einvoice.issues if i.code == "einvoice_mismatch"]


async def test_a_planted_mismatch_is_found() -> None:
    extraction = sent(await run(PLANTED)).extraction
    assert extraction.einvoice is not None
    fields = [i.field for i in extraction.einvoice.issues if i.code == "einvoice_mismatch"]
    assert fields == ["invoice_number", "total", "amount_due"]


async def test_broken_xml_ends_the_task_in_words() -> None:
    with pytest.raises(PermanentError) as caught:
        await run(BROKEN)
    assert caught.value.code == ErrorCode.INVALID_EINVOICE
    assert str(caught.value) == "the e-invoice XML is malformed or truncated"
