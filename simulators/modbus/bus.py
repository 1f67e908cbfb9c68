"""One RTU line: half-duplex, requests served strictly one after another.

With a baud rate, each reply leaves at
    start + request frame time + t3.5 + turnaround + reply frame time (+ `slow` delay)
where start is the request's arrival, or the end of the previous exchange plus
t3.5 if the line was still busy. The reply is written in one piece at that
moment, so a client never sees it earlier than the real line would deliver it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Protocol

from simulators.modbus.dispatch import answer, turnaround_of
from simulators.modbus.faults import FaultSwitch
from simulators.modbus.framing import rtu_frame
from simulators.modbus.memory import UnitMemory
from simulators.modbus.pdu import WRITE_FUNCTIONS
from simulators.modbus.stats import ServerStats
from simulators.modbus.timing import Parity, StopBits, char_time_s, t35_s

log = logging.getLogger(__name__)

BROADCAST = 0


class ReplySink(Protocol):
    """Where the replies to one client's requests go (a TCP connection, a pty)."""

    def send(self, data: bytes) -> bool:
        """Write a reply; False if it could not be delivered (client gone)."""
        ...

    def hang_up(self) -> None:
        """Close the connection (fault `drop_connection`); a serial line ignores it."""
        ...


class RtuBus:
    def __init__(
        self,
        units: Mapping[int, UnitMemory],
        faults: FaultSwitch,
        stats: ServerStats,
        *,
        baudrate: int | None,
        parity: Parity = "E",
        stopbits: StopBits = 1,
        turnaround_s: float = 0.0,
    ) -> None:
        self.units = units
        self.faults = faults
        self.stats = stats
        self.turnaround_s = turnaround_s
        if baudrate is None:
            self._char_s = self._t35_s = 0.0
        else:
            self._char_s = char_time_s(baudrate, parity, stopbits)
            self._t35_s = t35_s(baudrate, parity, stopbits)
        self._queue: asyncio.Queue[tuple[bytes, float, ReplySink]] = asyncio.Queue()
        self._free_at = 0.0
        self._held: tuple[bytes, ReplySink] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="rtu-bus")

    def submit(self, frame: bytes, arrived: float, sink: ReplySink) -> None:
        """Queue a request frame (unit id + PDU, CRC checked and removed)."""
        self._queue.put_nowait((frame, arrived, sink))

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def wait_closed(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            frame, arrived, sink = await self._queue.get()
            try:
                await self._serve(loop, frame, arrived, sink)
            except Exception:
                log.exception("RTU request %s failed", frame.hex())

    async def _serve(
        self, loop: asyncio.AbstractEventLoop, frame: bytes, arrived: float, sink: ReplySink
    ) -> None:
        self.stats.requests += 1
        if self._held is not None:  # fault `late`: the previous reply goes out now
            data, held_sink = self._held
            self._held = None
            self._send(held_sink, data)
        start = max(arrived, self._free_at)
        request_end = start + (len(frame) + 2) * self._char_s
        self._free_at = request_end + self._t35_s
        unit_id, pdu = frame[0], frame[1:]
        if unit_id == BROADCAST:
            if pdu[0] in WRITE_FUNCTIONS:
                for uid, listener in list(self.units.items()):
                    answer(listener, pdu, self.faults.get(uid))  # executed, never answered
            return
        unit = self.units.get(unit_id)
        if unit is None:
            return  # nobody on the line has this address
        outcome = answer(unit, pdu, self.faults.get(unit_id))
        if outcome.drop:
            sink.hang_up()
            return
        if outcome.reply is None:
            return
        reply = rtu_frame(unit_id, outcome.reply)
        if outcome.bad_crc:
            reply = reply[:-1] + bytes((reply[-1] ^ 0xFF,))
        send_at = (
            request_end
            + self._t35_s
            + turnaround_of(unit, self.turnaround_s)
            + outcome.delay_s
            + len(reply) * self._char_s
        )
        self._free_at = send_at + self._t35_s
        wait = send_at - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if outcome.late:
            self._held = (reply, sink)
        else:
            self._send(sink, reply)

    def _send(self, sink: ReplySink, data: bytes) -> None:
        if sink.send(data):
            self.stats.replies += 1
