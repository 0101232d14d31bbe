"""CPU time to render one page for the review workspace (`GET /api/invoices/{id}/pages/{n}`):
`services/pages/render.py` at 1600 px, then PNG, in this process, for typical documents.

    python -m bench.pages [--runs 7]

CPU time of this process (`time.process_time`), so other load on the machine moves it little;
the gateway runs the same work in a decode process, and a cached page costs none of it.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

from PIL import Image

from services.gateway.pages import PAGE_SIDE
from services.pages.render import DocumentLimits, page_png
from testkit.documents import RECEIPT_LINES, image_bytes, scanned_pdf, text_pdf

LIMITS = DocumentLimits(max_image_side=PAGE_SIDE)


def photo_jpeg() -> bytes:
    """A 12 MP phone photo of a receipt, stored sideways with an EXIF rotation."""
    return image_bytes(RECEIPT_LINES, size=(4000, 3000), fmt="JPEG", exif_orientation=6)


def largest_png() -> bytes:
    """A 40 MP scan, the default pixel limit."""
    buffer = io.BytesIO()
    Image.new("RGB", (6324, 6324), "white").save(buffer, "PNG")
    return buffer.getvalue()


DOCUMENTS: dict[str, Callable[[], bytes]] = {
    "A4 PDF page with a text layer": lambda: text_pdf([RECEIPT_LINES] * 2),
    "scanned PDF page": scanned_pdf,
    "400x300 PNG": image_bytes,
    "12 MP JPEG photo (EXIF rotated)": photo_jpeg,
    "40 MP PNG scan": largest_png,
}


def cpu_ms(data: bytes, runs: int) -> tuple[float, float, int]:
    """(min, median) CPU milliseconds of one page, and the PNG's bytes."""
    times = []
    png = b""
    for _ in range(runs):
        start = time.process_time()
        result = page_png(data, 1, LIMITS)
        times.append((time.process_time() - start) * 1000)
        assert isinstance(result, bytes)
        png = result
    return min(times), statistics.median(times), len(png)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"| document | CPU ms per page (min / median of {args.runs}) | PNG |")
    print("|---|---|---|")
    for name, make in DOCUMENTS.items():
        fastest, median, size = cpu_ms(make(), args.runs)
        print(f"| {name} | {fastest:.0f} / {median:.0f} | {size / 1024:.0f} KiB |")


if __name__ == "__main__":
    main()
