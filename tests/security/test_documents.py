"""Hostile documents: each is refused with its code, or read, quickly and without hurting the
extractor. Run through the decode pool as the service runs them (spawned processes under a
time and memory budget), then through a whole stack of real processes."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable

import httpx
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import ALLOWED_MEDIA_TYPES, sniff_media_type
from contracts.media import SNIFF_BYTES
from services.extractor.documents import Document, cheap_to_load, load_document
from services.pages.decode_pool import DecodePool, PoolLimits
from services.pages.render import DocumentLimits
from services.worker.errors import PermanentError, StageError
from testkit.contract_client import Socket, trigger, upload
from testkit.documents import image_bytes, scanned_pdf, text_pdf, tiff_bytes
from testkit.hostile import CORPUS, ODD_FILENAMES, Hostile, png_many_pixels, tiff_ifd_chain
from testkit.stack import Stack
from tests.support.waiting import wait_until

LIMITS = DocumentLimits()
# Generous: every file of the corpus is answered in well under a second on this machine.
ANSWER_SECONDS = 30.0


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[DecodePool]:
    pool = DecodePool(PoolLimits(processes=2, seconds=20, memory_limit_mb=2048))
    yield pool
    await pool.close()


def assert_words(message: str) -> None:
    """A refusal says what is wrong in words: never an exception's name or a library's text."""
    assert message and not re.search(r"[A-Z][a-z]+(Error|Exception)|Traceback|errno", message)


async def outcome(pool: DecodePool, data: bytes) -> str | None:
    """The error code the extractor answers `data` with, or None when it reads a document."""
    try:
        document = await asyncio.wait_for(
            pool.run(load_document, data, LIMITS), timeout=ANSWER_SECONDS
        )
    except PermanentError as exc:
        assert_words(exc.message)
        return exc.code
    assert isinstance(document, Document) and document.pages
    return None


@pytest.mark.parametrize("hostile", CORPUS, ids=[h.name for h in CORPUS])
async def test_each_hostile_file_gets_its_code(pool: DecodePool, hostile: Hostile) -> None:
    assert await outcome(pool, hostile.make()) == hostile.code


async def test_many_pixel_images_and_page_chains_leave_the_loop_responsive(
    pool: DecodePool,
) -> None:
    # Three 36-megapixel PNGs of a few KB each and the 40,000-page TIFF, all at once.
    files = [png_many_pixels(6000)] * 3 + [tiff_ifd_chain()]
    assert not any(cheap_to_load(data) for data in files)
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    codes = await asyncio.gather(*(outcome(pool, data) for data in files))
    done.set()
    await beat

    assert codes == [None, None, None, "too_many_pages"]
    # Decoding them inline stalled the loop for seconds; off the loop no beat is late by much.
    assert max(gaps) < 0.5, f"the event loop stalled for {max(gaps):.2f} s"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64))
def test_sniffing_any_bytes_names_an_accepted_type_or_none(data: bytes) -> None:
    assert sniff_media_type(data[:SNIFF_BYTES]) in (*ALLOWED_MEDIA_TYPES, None)


_SEEDS = [image_bytes(), image_bytes(fmt="JPEG"), image_bytes(fmt="WEBP"), tiff_bytes(2)]
_SEEDS += [text_pdf(), scanned_pdf()]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A real document with bytes flipped, cut or inserted: the decoders' hard cases."""
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        match draw(st.sampled_from(["flip", "cut", "insert"])):
            case "flip":
                data[at] = draw(st.integers(0, 255))
            case "cut":
                del data[at:]
                if not data:
                    break
            case _:
                data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


# Each example takes milliseconds here; the deadline is generous so a loaded machine is no
# failure, while a hang or a CPU bomb still is.
@settings(max_examples=200, deadline=10_000, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(damaged(), st.binary(max_size=256)))
def test_any_bytes_load_as_a_document_or_a_coded_refusal(data: bytes) -> None:
    # In this process (no pool), so that a crash or a hang would fail the test itself;
    # hypothesis's deadline bounds each example.
    try:
        document = load_document(data, DocumentLimits(max_pages=3, max_image_side=512))
    except StageError as exc:
        assert isinstance(exc, PermanentError) and exc.code
        assert_words(exc.message)
    else:
        assert document.pages


# --- a whole stack of real processes --------------------------------------------------------


@pytest.mark.e2e
async def test_a_stack_answers_hostile_uploads_with_codes_at_once_and_stays_up(
    make_stack: Callable[..., Stack], model_url: str
) -> None:
    stack = make_stack(model_url)
    files = [h for h in CORPUS if h.code not in (None, "unsupported_media_type")]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        socket = await Socket.connect(stack.ws_url)
        try:
            tasks = []
            for hostile, name in zip(files, _names(len(files)), strict=True):
                blob = await upload(http, name, hostile.make(), "application/octet-stream")
                task = await trigger(http, blob["blob_url"], name, model_provider="local")
                await socket.join(task["task_id"], task["token"])
                tasks.append((hostile, task))
            for hostile, task in tasks:
                updates = await socket.until_done(task["task_id"], timeout=ANSWER_SECONDS)
                assert updates[-1]["type"] == "error", (hostile.name, updates[-1])
                assert updates[-1]["error"]["code"] == hostile.code, hostile.name
        finally:
            await socket.close()
    # Still serving: an ordinary receipt goes through after all of them.
    await receipt_done(stack, "after the hostile files")


async def receipt_done(stack: Stack, tag: str) -> None:
    """An ordinary receipt through the `local` provider (so decode processes are running);
    `tag` makes it new, so the extraction cache does not answer it."""
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        socket = await Socket.connect(stack.ws_url)
        try:
            content = image_bytes(("RECEIPT", tag))
            blob = await upload(http, "receipt.png", content, "image/png")
            task = await trigger(http, blob["blob_url"], "receipt.png", model_provider="local")
            await socket.join(task["task_id"], task["token"])
            updates = await socket.until_done(task["task_id"], timeout=120)
            assert updates[-1]["type"] == "complete", updates[-1]
        finally:
            await socket.close()


def decode_processes(stack: Stack) -> list[psutil.Process]:
    children = psutil.Process(stack.procs["extractor"].pid).children(recursive=True)
    return [child for child in children if "multiprocessing" in " ".join(child.cmdline())]


async def ended(processes: list[psutil.Process], timeout: float = 20.0) -> bool:
    """Whether every process is gone (or a zombie no one has reaped yet) within `timeout`."""

    async def all_gone() -> bool:
        return not any(
            process.is_running() and process.status() != psutil.STATUS_ZOMBIE
            for process in processes
        )

    with contextlib.suppress(psutil.NoSuchProcess):
        await wait_until(all_gone, timeout=timeout, interval=0.1)
    return await all_gone()


@pytest.mark.e2e
async def test_the_extractor_leaves_no_decode_process_behind(
    make_stack: Callable[..., Stack], model_url: str
) -> None:
    stack = make_stack(model_url)
    await receipt_done(stack, "first")
    children = decode_processes(stack)
    assert children, "the receipt was decoded in no decode process"

    stack.terminate("extractor")  # SIGTERM: drain, then the pool closes its children

    assert stack.procs["extractor"].returncode == 0
    assert await ended(children)

    # Killed outright, the service cannot close them: the kernel ends them with it.
    stack.start_service("extractor")
    stack.wait_ready(["extractor"])
    await receipt_done(stack, "second")
    children = decode_processes(stack)
    assert children
    stack.kill("extractor")

    assert await ended(children)


def _names(count: int) -> list[str]:
    """Odd names first, then plain ones: a name never changes how a document is answered."""
    names = [name for name in ODD_FILENAMES if name]
    return [*names, *(f"hostile-{index}.bin" for index in range(count))][:count]
