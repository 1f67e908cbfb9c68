"""An MQTT proxy for failure-direction tests: it forwards a client's connection to a real
broker and loses chosen PUBLISH packets while the TCP connection stays up.

What a broker outage cannot show: a window of QoS 1 publishes of which only the first few
reach the broker (the rest time out without a PUBACK), or a subscription that silently stops
delivering while the client is still connected. Only the MQTT fixed header and a PUBLISH's
topic are parsed (MQTT 3.1.1 §2.2, §3.3.2); everything else passes through byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

PUBLISH = 3


@dataclass
class Cutter:
    """Rules of loss, changeable while it runs.

    ``forward_up(n, topic)`` decides whether the n-th client → broker PUBLISH (counted from 1
    on each connection) goes on; ``forward_down(topic)`` the same for broker → client.
    """

    broker_host: str
    broker_port: int
    forward_up: Callable[[int, str], bool] = lambda n, topic: True
    forward_down: Callable[[str], bool] = lambda topic: True
    connections: int = 0
    lost_up: list[str] = field(default_factory=list)
    lost_down: list[str] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> Cutter:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task

    async def _serve(self, client_r: asyncio.StreamReader,
                     client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        broker_r, broker_w = await asyncio.open_connection(self.broker_host, self.broker_port)
        count = 0

        def up(topic: str) -> bool:
            nonlocal count
            count += 1
            ok = self.forward_up(count, topic)
            if not ok:
                self.lost_up.append(topic)
            return ok

        def down(topic: str) -> bool:
            ok = self.forward_down(topic)
            if not ok:
                self.lost_down.append(topic)
            return ok

        pumps = [asyncio.create_task(_pump(client_r, broker_w, up)),
                 asyncio.create_task(_pump(broker_r, client_w, down))]
        for task in pumps:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            for w in (client_w, broker_w):
                w.close()


async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                keep: Callable[[str], bool]) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while True:
            packet = await _packet(src)
            if packet[0] >> 4 == PUBLISH and not keep(_topic(packet)):
                continue
            dst.write(packet)
            await dst.drain()


async def _packet(src: asyncio.StreamReader) -> bytes:
    """One whole MQTT control packet: fixed header, remaining length, body."""
    head = await src.readexactly(1)
    length, multiplier, raw = 0, 1, b""
    while True:
        byte = await src.readexactly(1)
        raw += byte
        length += (byte[0] & 0x7F) * multiplier
        multiplier *= 128
        if not byte[0] & 0x80:
            break
    return head + raw + await src.readexactly(length)


def _topic(packet: bytes) -> str:
    i = 1
    while packet[i] & 0x80:
        i += 1
    i += 1
    size = int.from_bytes(packet[i:i + 2], "big")
    return packet[i + 2:i + 2 + size].decode("utf-8", "replace")
