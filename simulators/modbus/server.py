"""asyncio servers: Modbus TCP, RTU over TCP (a serial server) and RTU on a pty.

Each `serve_*` coroutine starts listening and returns a `ServerHandle`. The
`units` mapping is read live, so units may be added or removed while serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from gateway.core.modbus_wire import MbapError, MbapFrame, mbap_frame, split_mbap
from simulators.modbus.bus import ReplySink, RtuBus
from simulators.modbus.dispatch import answer, turnaround_of
from simulators.modbus.faults import FaultSwitch
from simulators.modbus.framing import RtuRequestFramer
from simulators.modbus.memory import GATEWAY_TARGET_FAILED, UnitMemory
from simulators.modbus.pdu import exception_pdu
from simulators.modbus.stats import ServerStats
from simulators.modbus.timing import Parity, StopBits, t35_s

log = logging.getLogger(__name__)

UnknownUnit = Literal["silent", "gateway_exception"]

RTU_TURNAROUND_S = 0.020
PARTIAL_FRAME_GAP_S = 0.020
"""Silence after which a half-received RTU frame is dropped (at least t3.5)."""


class ServerHandle:
    """A running server: `close()`, then `await wait_closed()`; or `async with`."""

    def __init__(
        self,
        stats: ServerStats,
        close: Callable[[], None],
        wait_closed: Callable[[], Awaitable[None]],
        *,
        port: int | None = None,
        path: str | None = None,
        tty_name: str | None = None,
    ) -> None:
        self.stats = stats
        self.port = port
        """Bound TCP port (the real one when 0 was asked for)."""
        self.path = path
        """The pty's symlink."""
        self.tty_name = tty_name
        """The pty slave's own name (/dev/pts/N)."""
        self._close = close
        self._wait_closed = wait_closed
        self._closed = False

    @property
    def requests_served(self) -> int:
        return self.stats.replies

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    async def wait_closed(self) -> None:
        await self._wait_closed()

    async def __aenter__(self) -> ServerHandle:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
        await self.wait_closed()


# --- Modbus TCP -------------------------------------------------------------------------------


class _MbapConnection(asyncio.Protocol):
    """One client. Replies leave in request order; a delayed one holds back those after it."""

    def __init__(self, server: _MbapServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._rest = b""
        self._backlog: deque[MbapFrame] = deque()
        self._blocked = False
        self._held: bytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.connections.add(self)
        self._server.stats.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._backlog.clear()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if self._rest:
            data = self._rest + data
        try:
            frames, used = split_mbap(data)
        except MbapError:
            self._server.stats.bad_frames += 1
            self.close()
            return
        self._rest = data[used:]
        if self._blocked:
            self._backlog.extend(frames)
            return
        for i, frame in enumerate(frames):
            self._handle(frame)
            if self._blocked:
                self._backlog.extend(frames[i + 1 :])
                return

    def _handle(self, frame: MbapFrame) -> None:
        server = self._server
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if frame.protocol_id != 0:
            server.stats.bad_frames += 1
            return
        server.stats.requests += 1
        if self._held is not None:  # fault `late`: the previous reply goes out now
            transport.write(self._held)
            self._held = None
            server.stats.replies += 1
        tid, _, unit_id, pdu = frame
        unit = server.units.get(unit_id)
        if unit is None:
            if server.unknown_unit == "gateway_exception":
                transport.write(
                    mbap_frame(tid, unit_id, exception_pdu(pdu[0], GATEWAY_TARGET_FAILED))
                )
                server.stats.replies += 1
            return
        outcome = answer(unit, pdu, server.faults.get(unit_id))
        if outcome.drop:
            transport.close()
            return
        if outcome.reply is None or outcome.bad_crc:  # no CRC in MBAP: a bad one means silence
            return
        reply = mbap_frame(tid, unit_id, outcome.reply)
        if outcome.late:
            self._held = reply
            return
        delay = outcome.delay_s + turnaround_of(unit, server.turnaround_s)
        if delay > 0:
            self._blocked = True
            asyncio.get_running_loop().call_later(delay, self._deliver, reply)
            return
        transport.write(reply)
        server.stats.replies += 1

    def _deliver(self, reply: bytes) -> None:
        self._blocked = False
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(reply)
        self._server.stats.replies += 1
        while self._backlog and not self._blocked:
            self._handle(self._backlog.popleft())


class _MbapServer:
    def __init__(
        self,
        units: Mapping[int, UnitMemory],
        faults: FaultSwitch,
        unknown_unit: UnknownUnit,
        turnaround_s: float,
    ) -> None:
        self.units = units
        self.faults = faults
        self.unknown_unit = unknown_unit
        self.turnaround_s = turnaround_s
        self.stats = ServerStats()
        self.connections: set[_MbapConnection] = set()


async def serve_tcp(
    host: str,
    port: int,
    units: Mapping[int, UnitMemory],
    faults: FaultSwitch | None = None,
    *,
    unknown_unit: UnknownUnit = "gateway_exception",
    turnaround_s: float = 0.0,
) -> ServerHandle:
    """Modbus TCP (MBAP). An unknown unit id gets exception 0B, as from a TCP-to-RTU
    gateway whose device is silent, or silence with `unknown_unit="silent"`."""
    if unknown_unit not in ("silent", "gateway_exception"):
        raise ValueError(
            f"unknown_unit must be 'silent' or 'gateway_exception', not {unknown_unit!r}"
        )
    state = _MbapServer(units, faults or FaultSwitch(), unknown_unit, turnaround_s)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _MbapConnection(state), host, port)

    def close() -> None:
        server.close()
        for connection in list(state.connections):
            connection.close()

    return ServerHandle(state.stats, close, server.wait_closed, port=bound_port(server))


# --- RTU over TCP -----------------------------------------------------------------------------


class _RtuConnection(asyncio.Protocol):
    """One TCP client of a serial server; all clients share the one RTU line."""

    def __init__(self, bus: RtuBus, connections: set[_RtuConnection], gap_s: float) -> None:
        self._bus = bus
        self._connections = connections
        self._framer = RtuRequestFramer(gap_s)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._connections.add(self)
        self._bus.stats.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)

    def data_received(self, data: bytes) -> None:
        now = self._loop.time()
        _feed(self._framer, self._bus, data, now, self)

    def send(self, data: bytes) -> bool:
        if self._transport is None or self._transport.is_closing():
            return False
        self._transport.write(data)
        return True

    def hang_up(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _feed(framer: RtuRequestFramer, bus: RtuBus, data: bytes, now: float, sink: ReplySink) -> None:
    bad_before = framer.bad_frames
    for frame in framer.feed(data, now):
        bus.submit(frame, now, sink)
    bus.stats.bad_frames += framer.bad_frames - bad_before


async def serve_rtu_over_tcp(
    host: str,
    port: int,
    units: Mapping[int, UnitMemory],
    faults: FaultSwitch | None = None,
    *,
    baudrate: int | None = None,
    parity: Parity = "E",
    stopbits: StopBits = 1,
    turnaround_s: float | None = None,
) -> ServerHandle:
    """RTU frames over TCP, as a serial server passes them through. Unknown unit ids
    are silent. With a baud rate, replies take the serial line's time; the default
    turnaround is then 20 ms, and 0 without one."""
    if turnaround_s is None:
        turnaround_s = 0.0 if baudrate is None else RTU_TURNAROUND_S
    stats = ServerStats()
    bus = RtuBus(
        units,
        faults or FaultSwitch(),
        stats,
        baudrate=baudrate,
        parity=parity,
        stopbits=stopbits,
        turnaround_s=turnaround_s,
    )
    gap_s = _gap_s(baudrate, parity, stopbits)
    connections: set[_RtuConnection] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _RtuConnection(bus, connections, gap_s), host, port)
    bus.start()

    def close() -> None:
        server.close()
        for connection in list(connections):
            connection.hang_up()
        bus.close()

    async def wait_closed() -> None:
        await server.wait_closed()
        await bus.wait_closed()

    return ServerHandle(stats, close, wait_closed, port=bound_port(server))


# --- RTU on a pseudo-terminal -----------------------------------------------------------------


class _PtyLine:
    """The master side of a pty, standing for the RS-485 line behind the slave."""

    def __init__(self, master: int, bus: RtuBus, gap_s: float) -> None:
        self._master = master
        self._bus = bus
        self._framer = RtuRequestFramer(gap_s)
        self._loop = asyncio.get_running_loop()
        self.closed = False

    def on_readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:  # EIO cannot happen while we hold the slave open
            log.warning("pty read failed: %s", error)
            return
        if data:
            _feed(self._framer, self._bus, data, self._loop.time(), self)

    def send(self, data: bytes) -> bool:
        if self.closed:  # the fd number may already belong to another file
            return False
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                return False  # nobody is reading the line: the rest is lost, as on a wire
            view = view[written:]
        return True

    def hang_up(self) -> None:
        """A serial line cannot be hung up: `drop_connection` is silence here."""


async def serve_rtu_pty(
    link_path: str,
    units: Mapping[int, UnitMemory],
    faults: FaultSwitch | None = None,
    *,
    baudrate: int = 9600,
    parity: Parity = "E",
    stopbits: StopBits = 1,
    turnaround_s: float = RTU_TURNAROUND_S,
) -> ServerHandle:
    """RTU on a new pty whose slave is reachable at `link_path` (a symlink, replaced if
    stale). Unknown unit ids are silent; broadcasts (unit 0) are executed, not answered.
    The pty itself has no baud rate: `baudrate`, `parity` and `stopbits` set the
    emulated wire time only. Clients must open the pty with parity N: a Linux pty
    cannot hold PARENB, and pyserial (so pymodbus) then fails with EINVAL
    (pyserial#196)."""
    master, slave, tty_name = open_pty(link_path)
    stats = ServerStats()
    bus = RtuBus(
        units,
        faults or FaultSwitch(),
        stats,
        baudrate=baudrate,
        parity=parity,
        stopbits=stopbits,
        turnaround_s=turnaround_s,
    )
    line = _PtyLine(master, bus, _gap_s(baudrate, parity, stopbits))
    loop = asyncio.get_running_loop()
    loop.add_reader(master, line.on_readable)
    bus.start()

    def close() -> None:
        line.closed = True
        loop.remove_reader(master)
        bus.close()
        os.close(master)
        os.close(slave)  # kept open until now so that clients closing the slave cause no EIO
        with contextlib.suppress(OSError):
            if os.readlink(link_path) == tty_name:
                os.unlink(link_path)

    return ServerHandle(stats, close, bus.wait_closed, path=link_path, tty_name=tty_name)


def open_pty(link_path: str) -> tuple[int, int, str]:
    """A raw, non-blocking pty master, its slave fd and name, with link_path pointing at it."""
    if os.path.lexists(link_path) and not os.path.islink(link_path):
        raise FileExistsError(f"{link_path} exists and is not a symlink; not replacing it")
    master, slave = os.openpty()
    try:
        tty.setraw(master)  # on Linux this sets the slave's line discipline: no echo, no CR/LF
        os.set_blocking(master, False)
        tty_name = os.ttyname(slave)
        _symlink(tty_name, link_path)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    return master, slave, tty_name


def _symlink(target: str, link_path: str) -> None:
    """Point link_path at target, atomically replacing an old symlink."""
    temporary = f"{link_path}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    os.symlink(target, temporary)
    os.replace(temporary, link_path)


# --- shared -----------------------------------------------------------------------------------


def _gap_s(baudrate: int | None, parity: Parity, stopbits: StopBits) -> float:
    if baudrate is None:
        return PARTIAL_FRAME_GAP_S
    return max(PARTIAL_FRAME_GAP_S, t35_s(baudrate, parity, stopbits))


def bound_port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port
