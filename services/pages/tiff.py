"""Counting a TIFF's pages by walking its chain of IFDs (image file directories), bounded.

Pillow's `n_frames` walks the whole chain and parses every directory: a 1.6 MB file can chain
40,000 of them and cost seconds of CPU before any page limit applies. This walk reads only each
directory's entry count and its link to the next, stops one past the limit, refuses a cycle and
any offset outside the file, so its cost is bounded by the limit whatever the file says.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from contracts import ErrorCode
from services.worker.errors import PermanentError

_CLASSIC = 42
_BIG = 43
# An IFD of more entries than this is not a page of any scanner or fax.
MAX_IFD_ENTRIES = 4096


@dataclass(frozen=True)
class _Layout:
    first: int  # the offset of the first IFD
    count_format: str  # how an IFD's number of entries is stored
    entry_size: int
    link_format: str  # how the offset of the next IFD is stored


def tiff_page_count(data: bytes, max_pages: int) -> int:
    """The number of pages (IFDs), at most `max_pages + 1`: more than the limit is not counted."""
    layout = _layout(data)
    count_size = struct.calcsize(layout.count_format)
    link_size = struct.calcsize(layout.link_format)
    seen: set[int] = set()
    offset = layout.first
    while offset != 0 and len(seen) <= max_pages:
        if offset in seen:
            raise _corrupt("the TIFF's pages form a loop")
        seen.add(offset)
        if offset + count_size > len(data):
            raise _corrupt("a TIFF page lies outside the file")
        (entries,) = struct.unpack_from(layout.count_format, data, offset)
        if entries == 0 or entries > MAX_IFD_ENTRIES:
            raise _corrupt("a TIFF page has an impossible directory")
        link_at = offset + count_size + entries * layout.entry_size
        if link_at + link_size > len(data):
            raise _corrupt("a TIFF page lies outside the file")
        (offset,) = struct.unpack_from(layout.link_format, data, link_at)
    if not seen:
        raise _corrupt("the TIFF has no pages")
    return len(seen)


def _layout(data: bytes) -> _Layout:
    if len(data) >= 8 and data[:2] in (b"II", b"MM"):
        endian = "<" if data[:2] == b"II" else ">"
        (version,) = struct.unpack_from(endian + "H", data, 2)
        if version == _CLASSIC:
            (first,) = struct.unpack_from(endian + "I", data, 4)
            return _Layout(first, endian + "H", 12, endian + "I")
        if version == _BIG and len(data) >= 16:
            (first,) = struct.unpack_from(endian + "Q", data, 8)
            return _Layout(first, endian + "Q", 20, endian + "Q")
    raise _corrupt("the TIFF header cannot be read")


def _corrupt(message: str) -> PermanentError:
    return PermanentError(ErrorCode.CORRUPT_DOCUMENT, message)
