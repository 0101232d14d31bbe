"""The `openai` provider: any OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM, Ollama),
through the official SDK with a strict JSON-schema response format."""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass

import openai
from openai.lib._parsing import type_to_response_format_param
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionContentPartParam,
    ChatCompletionMessageParam,
)
from openai.types.chat.completion_create_params import ResponseFormat
from PIL import Image
from pydantic import ValidationError

from contracts import ErrorCode, Extraction, Usage
from services.extractor.documents import INLINE_PIXELS, Document, off_loop_if_big, pixels
from services.extractor.evidence import located_evidence, unplaced_evidence
from services.extractor.grounding import locate, lower_ungrounded
from services.extractor.llm_schema import InvalidAnswerError, InvoiceAnswer, to_invoice
from services.extractor.ocr import OcrEngine
from services.extractor.open_document import OpenDocument
from services.extractor.page_text import PageText
from services.extractor.provider import ReportProgress
from services.extractor.receipt_rows import page_texts, rows_from_ocr
from services.extractor.settings import EvidenceOcr, ExtractorSettings
from services.worker.errors import (
    DependencyUnavailableError,
    PermanentError,
    StageError,
    TransientError,
)

log = logging.getLogger(__name__)

# The dependency an unreachable endpoint makes the extractor wait for (its readiness says so).
MODEL_DEPENDENCY = "model"

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
JPEG_QUALITY = 85

# `evidence_ocr=auto` reads scanned pages for evidence only where that is cheap: a document of
# at most this many pages and pixels (a receipt, a short invoice) on a replica that holds no
# other work: at most this many messages held (this one included; fetched and not yet
# settled, whatever their stage) and extractions in progress. An OCR run costs 15-20 times the
# CPU of the rest of a task (docs/benchmarks.md#evidence): under load it would be the
# bottleneck. Extractions alone are no measure of load: with a fast model a burst's tasks
# spend most of their time fetching, decoding and handing on (4 of 200 were OCR'd mid-burst).
EVIDENCE_OCR_AUTO_PAGES = 2
EVIDENCE_OCR_AUTO_PIXELS = 6_000_000
EVIDENCE_OCR_AUTO_HELD = 1

SYSTEM_PROMPT = """\
You read invoices and receipts and return their data as JSON in the given schema.
Rules:
- Copy values exactly as printed; never invent one. A value that is not on the document is null.
- Money and quantities: plain decimal strings with a dot, no currency sign or thousands \
separator ("1234.50").
- Dates: ISO YYYY-MM-DD. Unless the document shows otherwise, dates are day-first.
- currency: the ISO 4217 code (RM → MYR, € → EUR, £ → GBP; $ only when the country is clear).
- document_type: "receipt" for till receipts, "credit_note" for credit notes, else "invoice".
- confidence: one entry per field you filled, 0 to 1, how sure you are that it is read right.
"""


@functools.cache
def response_format() -> ResponseFormat:
    """The strict JSON schema of `InvoiceAnswer`, built once: `parse()` rebuilt it on every call,
    a sixth of the extractor's CPU in the pipeline benchmark."""
    return type_to_response_format_param(InvoiceAnswer)  # type: ignore[return-value]


@dataclass(frozen=True)
class _Request:
    """What an extraction needs once its document is closed."""

    messages: list[ChatCompletionMessageParam]
    pages: int
    all_text: bool  # every page has a text layer
    reading: asyncio.Task[list[PageText]]  # the texts of the pages that can be known


def known_texts(document: Document, read: bool) -> list[PageText | tuple[int, Image.Image]]:
    """Every page whose text can be known: its text layer, else (`read`: the OCR pass runs)
    its image to read, in page order."""
    pages: list[PageText | tuple[int, Image.Image]] = []
    for page in document.pages:
        if page.text:
            areas = page.text_areas or (None,) * len(page.text)
            pages.append(PageText(page.number, page.text, areas))
        elif read and page.image is not None:
            pages.append((page.number, page.image))
    return pages


class OpenAIProvider:
    """One `AsyncOpenAI` client per process: it pools connections across tasks."""

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        default_model: str,
        timeout_seconds: float,
        max_retries: int,
        max_concurrency: int = 8,
        max_pages: int = 10,
        ocr: OcrEngine | None = None,
        evidence_ocr: EvidenceOcr = "auto",
        held: Callable[[], int] | None = None,
    ) -> None:
        """`ocr`: the engine that reads scanned pages for evidence, as `evidence_ocr` says;
        without one, scanned pages have no text to check or place values in. `held`: how many
        work messages the replica holds now (its worker's count), for `auto`."""
        self.default_model = default_model
        self._ocr = ocr
        self._evidence_ocr = evidence_ocr
        self._extracting = 0  # extractions in progress on this replica
        self._held = held or (lambda: 0)
        # Per replica: more calls at once only queue at the provider and draw 429s.
        self._calls = asyncio.Semaphore(max_concurrency)
        self._max_pages = max_pages
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            # Explicit: left unset, the SDK would read OPENAI_BASE_URL itself, even when blank.
            base_url=base_url or OPENAI_DEFAULT_BASE_URL,
            timeout=timeout_seconds,
            max_retries=max_retries,
        )

    async def close(self) -> None:
        await self._client.close()

    async def extract(
        self, opened: OpenDocument, *, model: str | None, report: ReportProgress
    ) -> Extraction:
        self._extracting += 1
        try:
            request = await self._request(opened)
            return await self._answer(request, model or self.default_model)
        finally:
            self._extracting -= 1

    async def _request(self, opened: OpenDocument) -> _Request:
        """The request and the OCR pass for evidence (started: it runs beside the model call,
        with the images it reads); then the document is closed, its pages no longer needed
        here while the call waits (with an OCR pass, once that has read them)."""
        document = opened.document
        if len(document.pages) > self._max_pages:
            raise PermanentError(
                ErrorCode.TOO_MANY_PAGES,
                f"{len(document.pages)} pages, over the {self._max_pages} sent in one request",
            )
        content = await off_loop_if_big(
            pixels(document) > INLINE_PIXELS, lambda: user_content(document)
        )
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": content},
        ]
        pages = known_texts(document, self._reads_scans(document))
        reading = asyncio.create_task(self._page_texts(pages))
        request = _Request(
            messages=messages,
            pages=len(document.pages),
            all_text=all(page.text for page in document.pages),
            reading=reading,
        )
        if any(isinstance(page, tuple) for page in pages):
            # Images to read: the slot stays taken until they are read (or the read cancelled),
            # so the pages held stay within the replica's open documents.
            reading.add_done_callback(lambda _: opened.close())
        else:
            opened.close()
        return request

    async def _answer(self, request: _Request, model: str) -> Extraction:
        reading = request.reading
        try:
            async with self._calls:
                completion = await self._complete(model, request.messages)
            answer = parse_answer(completion)
            try:
                invoice, confidence = to_invoice(answer)
            except InvalidAnswerError as exc:
                log.warning("the model's answer does not make an invoice: %s", _short(exc))
                raise PermanentError(
                    ErrorCode.PROVIDER_INVALID_OUTPUT,
                    "the model's answer does not make an invoice",
                ) from exc
            texts = await reading
        except BaseException:
            reading.cancel()  # it ends in no other error: `_read` answers none for any
            raise
        located = locate(invoice, texts)
        evidence = located_evidence(located, texts)
        if len(texts) == request.pages and (self._evidence_ocr == "on" or request.all_text):
            # Every page's text is known, for every such document: what is printed nowhere is
            # ungrounded. (Not under `auto`, where OCR runs or not by the replica's load: the
            # same document would be valid or sent to review by how busy the replica was.)
            confidence = lower_ungrounded(confidence, located)
        elif request.pages == 1:
            evidence = unplaced_evidence(invoice, 1) | evidence
        usage = completion.usage
        return Extraction(
            invoice=invoice,
            confidence=confidence,
            evidence=evidence,
            provider=self.name,
            model=completion.model or model,
            usage=Usage(
                input_tokens=usage.prompt_tokens if usage else 0,
                output_tokens=usage.completion_tokens if usage else 0,
            ),
            pages=request.pages,
        )

    async def _page_texts(self, pages: list[PageText | tuple[int, Image.Image]]) -> list[PageText]:
        """Each page's text: known already, or read by OCR on its image."""
        texts: list[PageText] = []
        for page in pages:
            if isinstance(page, PageText):
                texts.append(page)
            else:
                texts.extend(await self._read(*page))
        return texts

    def _reads_scans(self, document: Document) -> bool:
        if self._ocr is None or self._evidence_ocr == "off":
            return False
        if self._evidence_ocr == "on":
            return True
        scanned = [page for page in document.pages if not page.text and page.image is not None]
        return (
            len(scanned) <= EVIDENCE_OCR_AUTO_PAGES
            and pixels(document) <= EVIDENCE_OCR_AUTO_PIXELS
            and max(self._extracting, self._held()) <= EVIDENCE_OCR_AUTO_HELD
        )

    async def _read(self, number: int, image: Image.Image) -> list[PageText]:
        """One scanned page's text by OCR; none when OCR fails or reads nothing (then nothing
        is known about the page: evidence is not worth failing a task for)."""
        assert self._ocr is not None
        try:
            lines = await self._ocr.read(image)
        except (StageError, DependencyUnavailableError) as exc:
            log.warning("no OCR for evidence on page %d: %s", number, exc)
            return []
        return page_texts(rows_from_ocr(lines, number, image.size))

    async def _complete(
        self, model: str, messages: list[ChatCompletionMessageParam]
    ) -> ChatCompletion:
        """One call (the SDK retries 429/5xx/timeouts itself), errors mapped to coded ones."""
        try:
            return await self._client.chat.completions.create(
                model=model, messages=messages, response_format=response_format()
            )
        except openai.APITimeoutError as exc:
            # The endpoint is there but slow: the provider's problem, retried a few times.
            raise TransientError(
                ErrorCode.PROVIDER_UNAVAILABLE, "the model endpoint did not answer in time"
            ) from exc
        except openai.APIConnectionError as exc:
            # Nothing answers at all: an outage, which delays the work instead of failing it.
            log.warning("cannot reach the model endpoint: %s", _short(exc))
            raise DependencyUnavailableError(
                MODEL_DEPENDENCY, "cannot reach the model endpoint"
            ) from exc
        except openai.APIStatusError as exc:
            raise _status_error(exc) from exc
        except openai.APIResponseValidationError as exc:
            log.warning("the model endpoint's response is malformed: %s", _short(exc))
            raise PermanentError(
                ErrorCode.PROVIDER_INVALID_OUTPUT, "the model endpoint's response is malformed"
            ) from exc


def parse_answer(completion: ChatCompletion) -> InvoiceAnswer:
    """The first choice as an `InvoiceAnswer`; refusals, cut-off and invalid output are coded."""
    if not completion.choices:
        raise PermanentError(ErrorCode.PROVIDER_INVALID_OUTPUT, "the provider sent no choice")
    choice = completion.choices[0]
    if choice.finish_reason == "length":
        raise PermanentError(
            ErrorCode.PROVIDER_OUTPUT_TRUNCATED, "the model's answer was cut off (length)"
        )
    if choice.finish_reason == "content_filter":
        raise PermanentError(
            ErrorCode.PROVIDER_REFUSED, "the provider's content filter stopped the answer"
        )
    if choice.message.refusal:
        raise PermanentError(
            ErrorCode.PROVIDER_REFUSED, f"the model refused: {choice.message.refusal}"
        )
    if not choice.message.content:
        raise PermanentError(ErrorCode.PROVIDER_INVALID_OUTPUT, "the model sent no answer")
    try:
        return InvoiceAnswer.model_validate_json(choice.message.content)
    except ValidationError as exc:
        # Not JSON, or JSON that does not fit the schema.
        log.warning("the model's answer is not valid: %s", _short(exc))
        raise PermanentError(
            ErrorCode.PROVIDER_INVALID_OUTPUT, "the model's answer does not fit the invoice schema"
        ) from exc


def _status_error(exc: openai.APIStatusError) -> Exception:
    status = exc.status_code
    log.warning("the model endpoint answered %s: %s", status, _short(exc))
    text = f"the model endpoint answered HTTP {status}"
    if status in {408, 409, 429} or status >= 500:
        # The SDK already retried these; another delivery later may still succeed.
        return TransientError(ErrorCode.PROVIDER_UNAVAILABLE, text)
    if status in {401, 403, 404}:
        # Bad key, no access, unknown model: configuration, not the document.
        return PermanentError(ErrorCode.PROVIDER_NOT_CONFIGURED, text)
    return PermanentError(ErrorCode.PROVIDER_REFUSED, text)


def user_content(document: Document) -> list[ChatCompletionContentPartParam]:
    """Text-layer pages as text (cheap, exact), other pages as JPEG data URLs."""
    parts: list[ChatCompletionContentPartParam] = []
    total = len(document.pages)
    for page in document.pages:
        if page.text:
            parts.append({"type": "text", "text": f"Page {page.number}/{total}:\n{page.text}"})
        if page.image is not None:
            parts.append({"type": "text", "text": f"Page {page.number}/{total} (image):"})
            parts.append(
                {
                    "type": "image_url",
                    "image_url": {"url": data_url(page.image), "detail": "high"},
                }
            )
    return parts


# OpenAI's high-detail vision scales an image to fit 2048x2048, then its shortest side to 768,
# and bills 512-px tiles of that: pixels beyond it cost upload bytes and buy nothing.
VISION_MAX_SIDE = 2048
VISION_MAX_SHORT_SIDE = 768


def fit_for_vision(image: Image.Image) -> Image.Image:
    """Scaled down (never up) to what the model will look at."""
    width, height = image.size
    scale = min(
        1.0, VISION_MAX_SIDE / max(width, height), VISION_MAX_SHORT_SIDE / min(width, height)
    )
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def data_url(image: Image.Image) -> str:
    image = fit_for_vision(image)
    buffer = io.BytesIO()
    # No `optimize`: it halves encoding speed for a few percent of bytes.
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def provider_from_settings(
    settings: ExtractorSettings,
    ocr: OcrEngine | None = None,
    held: Callable[[], int] | None = None,
) -> OpenAIProvider | None:
    """The provider when an API key is configured, else None (then `openai` is refused)."""
    if not settings.openai_api_key:
        return None
    return OpenAIProvider(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        default_model=settings.openai_model,
        timeout_seconds=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
        max_concurrency=settings.openai_max_concurrency,
        max_pages=settings.openai_max_pages_per_request,
        ocr=ocr,
        evidence_ocr=settings.evidence_ocr,
        held=held,
    )
