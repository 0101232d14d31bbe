"""A minimal WebSocket client (RFC 6455) for the socket bench's load generator.

The bench runs its thousands of sockets on the machine it measures, so what each frame costs
the client is CPU taken from the gateway, and a client that cannot keep up stamps frames late.
The `websockets` library's asyncio client spends a task, a queue and several coroutine hops
per frame; this one is an `asyncio.Protocol` that parses frames where the bytes arrive and
stamps each message's arrival there, before anything else runs. What it does: the opening
handshake (the `Sec-WebSocket-Accept` check included), masked text frames out, unmasked
text/binary frames in (fragmented ones joined), pong for ping, the closing handshake. What it
does not: extensions (compression is off on both sides), subprotocols, TLS.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, 1.3
_TEXT, _BINARY, _CLOSE, _PING, _PONG, _CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


class ConnectionClosed(Exception):
    """The socket is closed: no more messages."""


class HandshakeFailed(Exception):
    """The server did not switch protocols."""


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame."""
    length = len(payload)
    if length < 126:
        head = bytes((0x80 | opcode, 0x80 | length))
    elif length < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
    mask = os.urandom(4)
    return head + mask + apply_mask(payload, mask)


def apply_mask(payload: bytes, mask: bytes) -> bytes:
    """RFC 6455 5.3: XOR with the 4-byte key repeated (masking and unmasking alike)."""
    length = len(payload)
    keys = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(keys, "little")).to_bytes(
        length, "little"
    )


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


class LightSocket(asyncio.Protocol):
    def __init__(self, key: str, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        self._key = key
        self._request = request
        self._transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self._buffer = bytearray()
        self._upgraded = False
        self._fragments: list[bytes] = []
        self._messages: deque[tuple[str, float]] = deque()  # (text, arrival)
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        arrival = time.time()
        self._buffer += data
        if not self._upgraded and not self._handshake():
            return
        if self._parse(arrival):
            self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionClosed("closed during the handshake"))
        self._wake()

    # --- the API the bench uses -------------------------------------------------------------

    async def send(self, text: str) -> None:
        if self.closed or self._transport is None:
            raise ConnectionClosed("closed")
        self._transport.write(encode_frame(_TEXT, text.encode()))

    async def recv(self) -> str:
        return (await self.recv_stamped())[0]

    async def recv_stamped(self) -> tuple[str, float]:
        """The next message and when its last bytes arrived (`time.time()`)."""
        while not self._messages:
            if self.closed:
                raise ConnectionClosed("closed")
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._messages.popleft()

    async def stamped(self) -> AsyncIterator[tuple[str, float]]:
        """Every message with its arrival, until the socket closes."""
        while True:
            try:
                yield await self.recv_stamped()
            except ConnectionClosed:
                return

    async def close(self) -> None:
        if self._transport is not None and not self.closed:
            if self._upgraded:
                self._transport.write(encode_frame(_CLOSE, (1000).to_bytes(2, "big")))
            self._transport.close()
        self.closed = True

    # --- inside -----------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _handshake(self) -> bool:
        if self.opened.done():  # refused already: what follows is the refusal's body
            return False
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in head[1:])
        }
        if not head[0].startswith("HTTP/1.1 101") or headers.get(
            "sec-websocket-accept"
        ) != accept_key(self._key):
            self.opened.set_exception(HandshakeFailed(head[0]))
            assert self._transport is not None
            self._transport.close()
            return False
        self._upgraded = True
        self.opened.set_result(None)
        return True

    def _parse(self, arrival: float) -> bool:
        """Every whole frame in the buffer; True when a message was queued."""
        buffer, pos, queued = self._buffer, 0, False
        while len(buffer) - pos >= 2:
            first, second = buffer[pos], buffer[pos + 1]
            length, header = second & 0x7F, 2
            if length == 126:
                if len(buffer) - pos < 4:
                    break
                length, header = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if len(buffer) - pos < 10:
                    break
                length, header = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), 10
            mask = b""
            if second & 0x80:  # servers do not mask; tolerated anyway
                mask = bytes(buffer[pos + header : pos + header + 4])
                header += 4
            if len(buffer) - pos < header + length:
                break
            payload = bytes(buffer[pos + header : pos + header + length])
            pos += header + length
            if mask:
                payload = apply_mask(payload, mask)
            queued |= self._frame(first & 0x80 != 0, first & 0x0F, payload, arrival)
        del buffer[:pos]
        return queued

    def _frame(self, final: bool, opcode: int, payload: bytes, arrival: float) -> bool:
        assert self._transport is not None
        if opcode in (_TEXT, _BINARY, _CONTINUATION):
            self._fragments.append(payload)
            if not final:
                return False
            text = b"".join(self._fragments).decode()
            self._fragments.clear()
            self._messages.append((text, arrival))
            return True
        if opcode == _PING:
            self._transport.write(encode_frame(_PONG, payload))
        elif opcode == _CLOSE:
            if not self.closed:
                self._transport.write(encode_frame(_CLOSE, payload[:2]))
            self.closed = True
            self._transport.close()
        return False


async def connect(
    url: str, *, local_addr: tuple[str, int] | None = None, open_timeout: float = 120
) -> LightSocket:
    """An open socket to a `ws://` URL (handshake done)."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or parts.hostname is None:
        raise ValueError(f"not a ws:// URL: {url}")
    port = parts.port or 80
    key = base64.b64encode(os.urandom(16)).decode()
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    _, socket = await loop.create_connection(
        lambda: LightSocket(key, request), parts.hostname, port, local_addr=local_addr
    )
    try:
        await asyncio.wait_for(asyncio.shield(socket.opened), open_timeout)
    except BaseException:
        await socket.close()
        raise
    return socket
