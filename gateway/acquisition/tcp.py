"""Modbus TCP links: the MBAP transaction id tells every reply apart.

The link speaks MBAP itself rather than through pymodbus's client: on the
path every value takes, pymodbus's request machinery (request and reply
objects, a lock, ``asyncio.wait_for`` and its extra task wake-up, per-frame
log formatting) was the largest single cost of the gateway's CPU per value
(docs/performance.md). Here one request costs a frame built by one struct
call and one future (one timer serves a burst of requests); the reply is
framed by gateway/core/modbus_wire, as the simulators' servers frame theirs,
and checked by gateway/acquisition/modbus_pdu. RTU links (rtu.py) keep
pymodbus.

What the link guarantees, as before: one request at a time; a reply is taken
only with the request's transaction id (a frame of an earlier transaction —
a late reply — is passed over); the unit id must be the request's (or 0, as
some gateways answer); a reply to another function, a malformed reply or a
broken MBAP stream is a ``BadReply``; no reply within ``timeout_s`` is a
``DeviceTimeout``. After a timeout or a bad reply the connection is closed, so
nothing of an abandoned exchange can come back on the next one; the next
request connects again. No gaps are kept: the device (or the gateway in front
of its serial line) owns the wire.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from gateway.acquisition.link import (
    BadReply,
    ConfiguredLink,
    DeviceException,
    DeviceTimeout,
    LinkDown,
    LinkError,
    Probe,
    ShortReply,
)
from gateway.acquisition.modbus_pdu import (
    check_echo,
    check_function,
    read_request,
    read_values,
    write_request,
)
from gateway.core.modbus_wire import MbapError, MbapFrame, mbap_frame, split_mbap
from gateway.core.profile_spec import READ_FUNCTION
from gateway.core.site import TcpLink

log = logging.getLogger("escogw.link")

#: Transaction ids run 1..LAST_TID and wrap (0 is never sent).
LAST_TID = 0xFFFF


class _Lost(Exception):
    """The connection closed while a request waited."""


class _Connection(asyncio.Protocol):
    """One connection's incoming bytes, framed, handed to the request that waits."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._waiter: asyncio.Future[MbapFrame] | None = None
        self._tid = 0
        #: frames of earlier transactions passed over (late replies)
        self.passed_over = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(_Lost(str(exc) if exc else "closed by the peer"))

    def expect(self, tid: int, waiter: asyncio.Future[MbapFrame] | None) -> None:
        """Hand the frame with transaction id ``tid`` to ``waiter``; None: nobody waits.
        The stream stays framed across requests: the part of a frame that arrived
        before (a duplicate reply split across segments) is kept, not thrown away."""
        self._tid, self._waiter = tid, waiter

    def data_received(self, data: bytes) -> None:
        """Frame every byte, whether a request waits or not: a frame without its
        transaction id (a late or a duplicate reply) is passed over whole, so the next
        frame starts where it should."""
        if self._buffer:
            data = self._buffer + data
        try:
            frames, used = split_mbap(data)
        except MbapError as exc:
            self._broken(f"broken MBAP stream: {exc}")
            return
        self._buffer = data[used:]
        if len(self._buffer) > 260:  # cannot happen with a sane length; stay bounded anyway
            self._broken("broken MBAP stream")
            return
        for frame in frames:
            if frame.protocol_id != 0:
                self._broken(f"MBAP protocol id {frame.protocol_id}, not 0 (Modbus)")
                return
            waiter = self._waiter
            if frame.transaction_id == self._tid and waiter is not None and not waiter.done():
                waiter.set_result(frame)
            else:
                self.passed_over += 1

    def _broken(self, why: str) -> None:
        """Nothing after a broken frame can be trusted: fail the request that waits, and
        close the connection (the next request connects again)."""
        self._buffer = b""
        self._fail(BadReply(why))
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class TcpModbusLink(ConfiguredLink[TcpLink]):
    """Modbus TCP to a device or a TCP-to-RTU gateway; implements link.Link."""

    keeps_gaps = False

    def __init__(self, link_id: str, config: TcpLink):
        super().__init__(link_id, config)
        self._conn: _Connection | None = None
        self._tid = 0
        self._lock = asyncio.Lock()
        #: the request waiting for its reply, and the loop time it waits until
        self._waiter: asyncio.Future[MbapFrame] | None = None
        self._deadline = 0.0
        #: one timer serves many requests: it is armed by a request when none is, and
        #: when it fires it fails the waiting request if that one's deadline has passed,
        #: or waits on until it does (a timer per request cost more than the request)
        self._timer: asyncio.TimerHandle | None = None

    def in_sync(self, unit: int) -> bool:
        return True  # transaction ids keep every unit in step

    @property
    def connected(self) -> bool:
        conn = self._conn
        return conn is not None and conn.transport is not None and \
            not conn.transport.is_closing()

    async def connect(self) -> bool:
        """Open the link if it is closed; False when it cannot be opened now."""
        if self.connected:
            return True
        self.close()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.config.timeout_s):
                _, conn = await loop.create_connection(
                    _Connection, self.config.host, self.config.port)
        except (OSError, TimeoutError) as exc:
            log.debug("link %s: connect failed: %s", self.id, exc or "timed out")
            return False
        self._conn = conn
        return True

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and conn.transport is not None:
            conn.transport.close()
        timer, self._timer = self._timer, None
        if timer is not None:  # it belongs to this loop; the next request arms its own
            timer.cancel()

    async def read(self, unit: int, table: str, address: int, count: int,
                   probes: Sequence[Probe] = ()) -> list[int]:
        """Read ``count`` registers or bits; ``probes`` are not needed here."""
        function = READ_FUNCTION[table]
        pdu = await self._ask(unit, read_request(function, address, count))
        try:
            values = read_values(function, count, pdu)
        except BadReply as exc:
            raise self._closed(exc) from None
        if len(values) != count:
            raise self.stats.count(ShortReply(f"asked for {count} values, got {len(values)}"))
        return values

    async def write(self, unit: int, table: str, address: int, values: list[int]) -> None:
        """Write holding registers (FC06/16) or coils (FC05/15); the echo is checked."""
        request = write_request(table, address, values)
        pdu = await self._ask(unit, request)
        try:
            check_echo(request, pdu)
        except BadReply as exc:
            raise self._closed(exc) from None

    # -- one exchange -----------------------------------------------------------

    async def _ask(self, unit: int, request: bytes) -> bytes:
        """Send one request PDU and return the normal reply PDU to it (function checked);
        an exception reply is raised as DeviceException."""
        async with self._lock:
            frame = await self._exchange(unit, request)
        if frame.unit_id not in (unit, 0):
            raise self._closed(BadReply(f"reply from unit {frame.unit_id}, asked {unit}"))
        try:
            check_function(request[0], frame.pdu)
        except DeviceException as exc:
            # a late exception reply has an old transaction id: this one is the device's
            # answer to this request
            raise self.stats.count(exc) from None
        except BadReply as exc:
            raise self._closed(exc) from None
        return frame.pdu

    async def _exchange(self, unit: int, request: bytes) -> MbapFrame:
        if not await self.connect():
            raise self.stats.count(LinkDown(f"link {self.id} is not connected"))
        conn = self._conn
        assert conn is not None and conn.transport is not None
        self._tid = self._tid % LAST_TID + 1
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[MbapFrame] = loop.create_future()
        conn.expect(self._tid, waiter)
        self.stats.requests += 1
        start = time.monotonic()
        self._waiter = waiter
        self._deadline = loop.time() + self.config.timeout_s
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._expire)
        try:
            conn.transport.write(mbap_frame(self._tid, unit, request))
            return await waiter
        except TimeoutError:
            self.close()  # a new connection: the abandoned transaction cannot come back
            raise self.stats.count(DeviceTimeout(f"no reply from unit {unit}")) from None
        except _Lost:
            self.close()
            raise self.stats.count(LinkDown(f"link {self.id} lost")) from None
        except BadReply as exc:
            raise self._closed(exc) from None
        finally:
            self._waiter = None
            conn.expect(0, None)
            self.stats.exchanged(start)

    def _expire(self) -> None:
        """The timer: fail the waiting request once its deadline has passed."""
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        loop = asyncio.get_running_loop()
        if loop.time() >= self._deadline:
            waiter.set_exception(TimeoutError())
        else:
            self._timer = loop.call_at(self._deadline, self._expire)

    def _closed(self, exc: LinkError) -> LinkError:
        """Count ``exc`` and close the connection: whatever is still in flight on it must
        not be read as the next request's reply."""
        self.close()
        return self.stats.count(exc)
