"""How many Modbus TCP requests per second one simulator process serves.

The simulator (one unit, 1000 holding registers) runs in its own process; this
process drives it with raw asyncio MBAP clients, each keeping one FC03 read of
10 registers in flight, as a real poller does. The figure is the number of
verified replies per second of wall time; the server's own count is checked
against it.

    python -m bench.bench_simulator
"""

from __future__ import annotations

import asyncio
import multiprocessing
import struct
from multiprocessing.connection import Connection

from simulators.modbus import DictMemory, serve_tcp

DURATION_S = 3.0
CONNECTIONS = 10
REGISTERS = 10

_REQUEST = struct.Struct(">HHHBBHH")  # MBAP header + FC03 address count
_REPLY_SIZE = 7 + 2 + 2 * REGISTERS


def _serve(conn: Connection) -> None:
    asyncio.run(_serve_until_told(conn))


async def _serve_until_told(conn: Connection) -> None:
    units = {1: DictMemory(holding={a: a for a in range(1000)})}
    handle = await serve_tcp("127.0.0.1", 0, units)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(conn.fileno(), stop.set)
    conn.send(handle.port)
    await stop.wait()
    conn.recv()
    conn.send(handle.requests_served)
    handle.close()
    await handle.wait_closed()


class _Poller(asyncio.Protocol):
    """One connection, one request in flight, every reply checked."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.tid = 0
        self.count = 0
        self.deadline = 0.0
        self.buffer = b""
        self.done: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"simulator closed the connection: {exc}"))

    def start(self, deadline: float) -> None:
        self.deadline = deadline
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.tid = (self.tid + 1) & 0xFFFF
        self.transport.write(_REQUEST.pack(self.tid, 0, 6, 1, 3, 0, REGISTERS))

    def data_received(self, data: bytes) -> None:
        if self.buffer:
            data = self.buffer + data
        if len(data) < _REPLY_SIZE:
            self.buffer = data
            return
        self.buffer = data[_REPLY_SIZE:]
        if int.from_bytes(data[:2], "big") != self.tid or data[7] != 3:
            self.done.set_exception(AssertionError(f"bad reply {data[:_REPLY_SIZE].hex()}"))
            return
        self.count += 1
        if self.loop.time() < self.deadline:
            self._send()
        elif not self.done.done():
            self.done.set_result(None)


async def _drive(port: int, connections: int, duration_s: float) -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    pollers = []
    for _ in range(connections):
        _, poller = await loop.create_connection(lambda: _Poller(loop), "127.0.0.1", port)
        pollers.append(poller)
    start = loop.time()
    for poller in pollers:
        poller.start(start + duration_s)
    await asyncio.gather(*(p.done for p in pollers))
    elapsed = loop.time() - start
    for poller in pollers:
        assert poller.transport is not None
        poller.transport.close()
    return sum(p.count for p in pollers), elapsed


def run(duration_s: float = DURATION_S, connections: int = CONNECTIONS) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=_serve, args=(theirs,), name="bench-simulator", daemon=True)
    server.start()
    try:
        if not ours.poll(30):
            raise RuntimeError("simulator process did not start")
        port = ours.recv()
        count, elapsed = asyncio.run(_drive(port, connections, duration_s))
        ours.send("stop")
        served = ours.recv() if ours.poll(10) else None
    finally:
        server.join(5)
        if server.is_alive():
            server.terminate()
            server.join()
    if served is not None and served < count:
        raise RuntimeError(f"simulator counted {served} replies, clients saw {count}")
    return {"simulator_requests_per_s": count / elapsed}


def main() -> None:
    for name, value in run().items():
        print(f"{name}: {value:.0f}")


if __name__ == "__main__":
    main()
