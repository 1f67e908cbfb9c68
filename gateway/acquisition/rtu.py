"""Modbus RTU links: on a serial port, or through a serial server (RTU over TCP).

Both carry RTU frames to an RS-485 line, where a reply has no transaction id:
rtu_sync decides, from its shape and timing, whether a reply answers the
request just sent, and this module feeds it. Every byte received is timed and
seen on its way in (pymodbus's packet trace), so replies nobody waits for
still settle what was pending; after a failure the link waits until the line
has been silent for t3.5, so a reply still arriving is discarded rather than
mixed into the next.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.framer import FramerType

from gateway.acquisition.bus_budget import char_time_s, silent_interval_s
from gateway.acquisition.link import (
    BadReply,
    DeviceException,
    DeviceTimeout,
    LinkDown,
    Probe,
    StaleReply,
)
from gateway.acquisition.modbus import Client, ModbusLink
from gateway.acquisition.rtu_sync import RtuSync, Signature, Verdict, signature
from gateway.core.profile_spec import READ_FUNCTION
from gateway.core.site import RtuLink, RtuOverTcpLink

#: Longest RTU frame (bytes): the most a late reply can keep the line busy.
MAX_FRAME = 256


class RtuModbusLink(ModbusLink[RtuLink | RtuOverTcpLink]):
    keeps_gaps = True

    def __init__(self, link_id: str, config: RtuLink | RtuOverTcpLink):
        super().__init__(link_id, config)
        self._char_s = char_time_s(config.baudrate, config.parity, config.stopbits,
                                   config.bytesize)
        self._t35 = silent_interval_s(config.baudrate, config.parity, config.stopbits,
                                      config.bytesize)
        self._sync = RtuSync(self._char_s)
        self._sent_at = 0.0
        self._first_byte_at = 0.0
        self._last_rx_at = 0.0
        #: the unit a request is outstanding for (its reply is pymodbus's to take)
        self._asking: int | None = None

    def in_sync(self, unit: int) -> bool:
        return self._sync.in_sync(unit)

    def _make_client(self, common: dict[str, Any]) -> Client:
        c = self.config
        common["trace_packet"] = self._trace
        if isinstance(c, RtuOverTcpLink):
            return AsyncModbusTcpClient(c.host, port=c.port, framer=FramerType.RTU, **common)
        return AsyncModbusSerialClient(c.device, baudrate=c.baudrate, parity=c.parity,
                                       stopbits=c.stopbits, bytesize=c.bytesize, **common)

    def _trace(self, sending: bool, data: bytes) -> bytes:
        now = time.monotonic()
        if sending:
            self._sent_at = now
            self._first_byte_at = 0.0
        else:
            self._last_rx_at = now
            if not self._first_byte_at:
                self._first_byte_at = now
            if self._sync.waiting:
                self._sync.overheard(data, self._asking)
        return data

    # -- reads ------------------------------------------------------------------

    async def read(self, unit: int, table: str, address: int, count: int,
                   probes: Sequence[Probe] = ()) -> list[int]:
        """Read ``count`` registers or bits; a resync probe from ``probes`` goes first
        when this read's reply could be confused with a late one (rtu_sync)."""
        probe = self._sync.probe(unit, signature(READ_FUNCTION[table], count), probes)
        if probe is not None:
            self.stats.probes += 1
            try:
                await self._read(unit, *probe)
            except DeviceException as exc:
                if not exc.confirmed:  # still out of step: no use asking
                    raise
                # a confirmed exception answers the probe: in step again
        return await self._read(unit, table, address, count)

    async def _read(self, unit: int, table: str, address: int, count: int) -> list[int]:
        function = READ_FUNCTION[table]
        expected = signature(function, count)
        try:
            reply = await self._read_reply(unit, function, address, count)
        except (DeviceTimeout, BadReply, LinkDown):  # its reply may still come
            self._sync.lost(unit, expected)
            raise
        got: Signature
        if reply.isError():
            got = (function | 0x80, 0)
        elif function in (1, 2):
            got = (function, len(reply.bits) // 8)
        else:
            got = (function, 2 * len(reply.registers))
        delay = self._first_byte_at - self._sent_at if self._first_byte_at else None
        verdict = self._sync.judge(unit, expected, got, delay)
        if verdict is Verdict.ACCEPTED:
            return self._values(reply, function, count)
        if verdict in (Verdict.REFUSED, Verdict.UNCONFIRMED):
            raise self.stats.count(DeviceException(
                int(reply.exception_code), confirmed=verdict is Verdict.REFUSED))
        if verdict is Verdict.SHORT:
            raise self._short(count, self._values(reply, function, count))
        if verdict is Verdict.STALE:
            raise await self._flushed(self.stats.count(StaleReply(
                f"a late reply to an earlier request ({got[1]} data bytes, expected "
                f"{expected[1]}) refused")))
        raise await self._flushed(self._bad(
            f"reply with {got[1]} data bytes to a read of {expected[1]}"))

    # -- one exchange -----------------------------------------------------------

    async def _exchange(self, coro: Any, unit: int) -> Any:
        self._asking = unit
        try:
            return await super()._exchange(coro, unit)
        finally:
            self._asking = None

    async def _discard_in_flight(self) -> None:
        """Wait for t3.5 of silence on the line.

        The wait ends at most one longest frame after it began, so a chattering
        line cannot hold the link; rtu_sync keeps it correct anyway.
        """
        began = time.monotonic()
        limit = began + MAX_FRAME * self._char_s
        while True:
            quiet_until = max(self._last_rx_at, began) + self._t35
            now = time.monotonic()
            if now >= quiet_until or now >= limit:
                return
            await asyncio.sleep(min(quiet_until, limit) - now)
