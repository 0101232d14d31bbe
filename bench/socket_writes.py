"""What one WebSocket frame's socket write costs here, with nothing else around it.

    python -m bench.socket_writes [--sockets 1000] [--frames 6] [--size 300] [--repeat 3]

A uvloop server holds `--sockets` loopback connections that another process reads as fast as
it can; the server then writes `--frames` ready-made frames of `--size` bytes to each socket,
one `transport.write` per frame per socket, as the gateway does when every followed task has
an update. Prints the server's CPU per write: the floor under the gateway's live fan-out
(on loopback the kernel runs the receiving side's TCP work in the sender's system call too).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import selectors
import socket
import time
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized

import uvloop

from bench.pipeline import machine
from services.gateway.frames import websocket_text

READ_SECONDS = 60.0  # the reader's bound: it outlives any run


def read_all(port: int, sockets: int, received: Synchronized[int]) -> None:
    """Connect `sockets` times and read until the server closes or time is up; count the bytes."""
    connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(sockets)]
    selector = selectors.DefaultSelector()
    for connection in connections:
        connection.setblocking(False)
        selector.register(connection, selectors.EVENT_READ)
    deadline = time.monotonic() + READ_SECONDS
    total = 0
    while selector.get_map() and time.monotonic() < deadline:
        for key, _ in selector.select(0.5):
            try:
                chunk = key.fileobj.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            total += len(chunk)
            if not chunk:
                selector.unregister(key.fileobj)
    received.value = total


@dataclass(frozen=True)
class Measured:
    writes: int  # per repeat: every frame to every socket
    per_write: list[float]  # CPU seconds per write, one figure per repeat
    bytes_written: int
    bytes_read: int


async def measure(args: argparse.Namespace) -> Measured:
    transports: list[asyncio.Transport] = []
    all_connected = asyncio.Event()

    class Held(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transports.append(transport)  # type: ignore[arg-type]
            if len(transports) == args.sockets:
                all_connected.set()

    server = await asyncio.get_running_loop().create_server(Held, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    received = multiprocessing.Value("q", 0)
    reader = multiprocessing.Process(target=read_all, args=(port, args.sockets, received))
    reader.start()
    try:
        await asyncio.wait_for(all_connected.wait(), 30)
        frame = websocket_text("x" * args.size)  # framed as the gateway frames a task_update
        writes = args.frames * args.sockets
        per_write: list[float] = []
        for _ in range(args.repeat):
            started = time.process_time()
            for _ in range(args.frames):
                for transport in transports:
                    transport.write(frame)
            per_write.append((time.process_time() - started) / writes)
            while any(transport.get_write_buffer_size() for transport in transports):
                await asyncio.sleep(0.01)  # the reader drains what was written
    finally:
        for transport in transports:
            transport.close()
        server.close()
        await server.wait_closed()
        await asyncio.get_running_loop().run_in_executor(None, reader.join, READ_SECONDS)
    return Measured(writes, per_write, args.repeat * writes * len(frame), received.value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=6, help="frames per socket")
    parser.add_argument("--size", type=int, default=300, help="payload bytes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    measured = uvloop.run(measure(args))
    for seconds in measured.per_write:
        print(
            f"{measured.writes} writes of {args.size} B to {args.sockets} sockets: "
            f"{seconds * 1e6:.1f} µs CPU each, {seconds * measured.writes * 1e3:.0f} ms in all"
        )
    print(f"{measured.bytes_read} of {measured.bytes_written} bytes read; machine: {machine()}")


if __name__ == "__main__":
    main()
