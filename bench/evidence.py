"""What evidence costs in CPU time (process time, this process only):

  load       loading a dense text-layer PDF page (3,700 characters), which now places every
             character (pdfium's loose char boxes through the page's transform)
  locate     grounding's matcher placing an invoice's 47 values (11 line items) on that page
  ocr        the OCR pass on one small receipt image (as bench.pipeline sends)

    python -m bench.evidence [--repeat 30]

The `load` line runs on a checkout without evidence too (a worktree of main), to compare.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable

from PIL import Image

from bench.pipeline import receipt_image
from contracts import Invoice
from services.extractor.documents import load_document
from services.pages.render import DocumentLimits
from testkit.documents import text_pdf

LINES = [
    f"Line {i:03d} Widget description number {i} qty 2 x 12.50 = 25.00 EUR ok" for i in range(55)
]


def cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm: imports, model loads
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - start) / repeat * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    data = text_pdf([LINES])
    document = load_document(data, DocumentLimits())
    text = document.pages[0].text or ""
    print(f"load: {cpu_ms(lambda: load_document(data, DocumentLimits()), args.repeat):.2f} ms "
          f"CPU a page of {len(text)} characters")  # fmt: skip

    try:
        from services.extractor.grounding import locate
        from services.extractor.page_text import PageText
    except ImportError:  # a checkout before evidence
        return 0
    invoice = Invoice.model_validate(
        {
            "invoice_number": "Line 054",
            "currency": "EUR",
            "total": "25.00",
            "line_items": [
                {"description": f"Widget description number {i}", "quantity": "2",
                 "unit_price": "12.50", "amount": "25.00"}
                for i in range(0, 55, 5)
            ],
        }
    )  # fmt: skip
    areas = document.pages[0].text_areas or (None,) * len(text)
    pages = [PageText(1, text, areas)]
    print(f"locate: {cpu_ms(lambda: locate(invoice, pages), args.repeat):.2f} ms CPU "
          f"{len(locate(invoice, pages))} values")  # fmt: skip

    from services.extractor.ocr import OcrEngine

    engine = OcrEngine()
    image = Image.open(io.BytesIO(receipt_image(0))).convert("RGB")
    print(f"ocr: {cpu_ms(lambda: engine.read_sync(image), max(3, args.repeat // 6)):.0f} ms CPU "
          f"one {image.width}x{image.height} receipt image")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
