"""The gateway's page renderer: bounded renders, one render per page at a time, a bounded cache.
(Here in threads; with the gateway's decode processes: tests/gateway/test_documents.py.)"""

from __future__ import annotations

import asyncio
import io
import math

import pytest
from PIL import Image

from services.gateway.app import page_renderer
from services.gateway.pages import (
    PAGE_SIDE,
    DocumentGoneError,
    PageCache,
    PageRenderer,
    RenderersBusyError,
    page_etag,
)
from services.gateway.settings import GatewaySettings
from services.pages.decode_pool import InThread
from services.pages.render import DocumentLimits, PageNotFoundError
from testkit.documents import image_bytes, text_pdf

PDF = text_pdf([["one"], ["two"], ["three"]])
TIMEOUT = 10.0


def renderer(concurrency: int = 2, max_waiting: int = 4) -> PageRenderer:
    limits = DocumentLimits(max_image_side=PAGE_SIDE)
    return PageRenderer(
        limits, InThread(), concurrency=concurrency, max_waiting=max_waiting, cache_bytes=1 << 20
    )


class Document:
    """A document read only when let through: stands for a slow object store."""

    def __init__(self, data: bytes | None = PDF) -> None:
        self.data = data
        self.reads = 0
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def read(self) -> bytes | None:
        self.reads += 1
        self.asked.set()
        await self.release.wait()
        return self.data

    @classmethod
    def ready(cls, data: bytes | None = PDF) -> Document:
        document = cls(data)
        document.release.set()
        return document


def test_the_cache_drops_the_least_recently_used_beyond_its_bytes() -> None:
    cache = PageCache(max_bytes=10)
    cache.put(("a", 1), b"1234")
    cache.put(("a", 2), b"1234")
    assert cache.get(("a", 1)) == b"1234"  # now the most recent
    cache.put(("a", 3), b"1234")

    assert cache.get(("a", 2)) is None
    assert cache.get(("a", 1)) == b"1234" and cache.get(("a", 3)) == b"1234"
    assert cache.size == 8 and len(cache) == 2
    cache.put(("a", 1), b"12")  # replaced, not counted twice
    assert cache.size == 6
    cache.put(("b", 1), b"x" * 11)  # larger than the whole cache: not kept, nothing dropped
    assert cache.get(("b", 1)) is None and len(cache) == 2


async def test_a_page_is_rendered_once_then_served_from_the_cache() -> None:
    pages = renderer()
    document = Document.ready()

    first = await pages.page("sha", 2, document.read)
    again = await pages.page("sha", 2, document.read)

    assert first == again and pages.renders == 1 and document.reads == 1
    with Image.open(io.BytesIO(first)) as image:
        assert image.format == "PNG" and max(image.size) == PAGE_SIDE


async def test_requests_for_a_page_being_rendered_wait_for_that_render() -> None:
    pages = renderer()
    document = Document()
    waiting = [pages.page("sha", 1, document.read) for _ in range(3)]
    await asyncio.wait_for(document.asked.wait(), TIMEOUT)

    # One who leaves does not stop the render the others wait for.
    waiting[0].cancel()
    document.release.set()
    rest = await asyncio.wait_for(asyncio.gather(*waiting[1:]), TIMEOUT)

    assert rest[0] == rest[1] and document.reads == 1 and pages.renders == 1


async def test_beyond_the_renders_and_their_queue_it_is_busy() -> None:
    pages = renderer(concurrency=1, max_waiting=1)
    slow = Document()
    running = pages.page("sha", 1, slow.read)
    await asyncio.wait_for(slow.asked.wait(), TIMEOUT)
    queued = pages.page("sha", 2, Document.ready().read)  # admitted when asked, to wait

    with pytest.raises(RenderersBusyError):
        pages.page("sha", 3, Document.ready().read)
    # A page already being rendered is no new render: it still waits for that one.
    same = pages.page("sha", 1, slow.read)
    slow.release.set()
    await asyncio.wait_for(asyncio.gather(running, queued, same), TIMEOUT)

    # Slots are given back: a new page renders.
    assert await pages.page("sha", 3, Document.ready().read)
    assert pages.renders == 3


async def test_failures_are_not_cached_and_give_their_slot_back() -> None:
    pages = renderer(concurrency=1, max_waiting=0)

    with pytest.raises(PageNotFoundError) as caught:
        await pages.page("sha", 4, Document.ready().read)
    assert caught.value.count == 3
    with pytest.raises(DocumentGoneError):
        await pages.page("gone", 1, Document.ready(None).read)

    assert len(pages.cache) == 0
    assert await pages.page("png", 1, Document.ready(image_bytes()).read)


def test_a_pages_etag_names_the_document_the_page_and_the_renderer() -> None:
    assert page_etag("ab", 2) != page_etag("ab", 3) != page_etag("cd", 2)
    assert page_etag("ab", 2).startswith('"') and page_etag("ab", 2).endswith('"')


async def test_the_largest_image_the_extractor_accepts_renders_with_the_default_limits() -> None:
    # 40 MP, the default pixel limit; WebP needs the most memory to decode (640-768 MiB).
    side = math.isqrt(DocumentLimits().max_image_pixels)
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), "white").save(buffer, "WEBP")
    pages = page_renderer(GatewaySettings(_env_file=None))  # type: ignore[call-arg]
    try:
        png = await pages.page("webp", 1, Document.ready(buffer.getvalue()).read)
    finally:
        await pages.close()

    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (PAGE_SIDE, PAGE_SIDE)
