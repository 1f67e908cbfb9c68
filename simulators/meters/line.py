"""A simulated meter line: DL/T 645-2007 and CJ/T 188-2004 frames on a pty or a serial
server's TCP port, answered one after another with the line's wire time and faults.

Both protocols share the line, as they do in buildings: a request is parsed as
DL/T 645 when its frame says so (the second 68), as CJ/T 188 otherwise. A
request's address may carry AA wildcard bytes (DL/T 645-2007 §7.1: the high
bytes of the address may be AA, and the meter answers with its own address);
every meter that matches answers, and when more than one does their replies
collide on the wire, which the line shows as one garbled frame. Each reply
leaves at request end + the meter's turnaround + its own wire time (+ a
``slow`` fault's delay).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from gateway.core import cjt188, dlt645
from gateway.core.meterframe import scan
from simulators.meters.memory import MeterMemory
from simulators.modbus.bus import ReplySink
from simulators.modbus.faults import FaultSpec, FaultSwitch
from simulators.modbus.server import ServerHandle, bound_port, open_pty
from simulators.modbus.stats import ServerStats
from simulators.modbus.timing import Parity, StopBits, char_time_s

log = logging.getLogger(__name__)

#: Noise a `garbage` fault puts before a reply: wake-up bytes, a stray 68, junk.
GARBAGE = bytes.fromhex("00 FF 68 13 FE 5A 68 00 FE")
DEFAULT_TURNAROUND_S = 0.020

Request = tuple[str, bytes]  # ("dlt645" | "cjt188", the frame from 68 to 16)


def _matches(pattern: str, address: str) -> bool:
    """A request address (A digits are wildcards, pairwise) against a meter's."""
    return len(pattern) == len(address) and all(
        p == "AA" or p == a for p, a in zip(
            (pattern[i:i + 2] for i in range(0, len(pattern), 2)),
            (address[i:i + 2] for i in range(0, len(address), 2)), strict=True))


class RequestFramer:
    """Frames of either protocol out of one client's byte stream."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> tuple[list[Request], int]:
        """The whole requests in the stream so far, and how many bad frames were dropped."""
        self._buffer += data
        out: list[Request] = []
        bad = 0
        while True:
            a = scan(self._buffer, dlt645.LAYOUT)
            b = scan(self._buffer, cjt188.LAYOUT)
            candidates = [(s.used - len(s.frame), kind, s) for kind, s in
                          (("dlt645", a), ("cjt188", b)) if s.frame is not None]
            if not candidates:
                bad += len(a.skipped)
                self._buffer = self._buffer[min(a.used, b.used):][-1024:]
                return out, bad
            _, kind, found = min(candidates, key=lambda c: c[0])
            assert found.frame is not None
            out.append((kind, found.frame))
            self._buffer = self._buffer[found.used:]


class MeterLine:
    """One line: a queue of requests, served strictly one after another."""

    def __init__(self, meters: Mapping[int, MeterMemory], faults: FaultSwitch,
                 stats: ServerStats, *, baudrate: int | None, parity: Parity = "E",
                 stopbits: StopBits = 1, turnaround_s: float = DEFAULT_TURNAROUND_S):
        self.meters = meters
        self.faults = faults
        self.stats = stats
        self.turnaround_s = turnaround_s
        self._char_s = 0.0 if baudrate is None else char_time_s(baudrate, parity, stopbits)
        self._queue: asyncio.Queue[tuple[Request, float, ReplySink]] = asyncio.Queue()
        self._free_at = 0.0
        self._held: tuple[bytes, ReplySink] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="meter-line")

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def wait_closed(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def feed(self, framer: RequestFramer, data: bytes, now: float, sink: ReplySink) -> None:
        requests, bad = framer.feed(data)
        self.stats.bad_frames += bad
        for request in requests:
            self._queue.put_nowait((request, now, sink))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            request, arrived, sink = await self._queue.get()
            try:
                await self._serve(loop, request, arrived, sink)
            except Exception:
                log.exception("meter request %s failed", request[1].hex())

    async def _serve(self, loop: asyncio.AbstractEventLoop, request: Request, arrived: float,
                     sink: ReplySink) -> None:
        self.stats.requests += 1
        if self._held is not None:  # fault `late`: the previous reply goes out now
            data, held_sink = self._held
            self._held = None
            self._send(held_sink, data)
        kind, frame = request
        start = max(arrived, self._free_at)
        request_end = start + (len(frame) + dlt645.WAKE) * self._char_s
        self._free_at = request_end
        answers = self._answers_dlt645(frame) if kind == "dlt645" else self._answers_cjt188(frame)
        replies: list[tuple[bytes, MeterMemory, FaultSpec | None]] = []
        for unit, make in answers:
            meter = self.meters[unit]
            fault = self.faults.get(unit)
            if fault is not None and fault.kind in ("no_reply", "vanish"):
                continue
            if fault is not None and fault.kind == "drop_connection":
                sink.hang_up()
                return
            replies.append((make(fault), meter, fault))
        if not replies:
            return
        if len(replies) > 1:  # several meters answered at once: the frames collide
            reply = bytes(x ^ y for x, y in zip(replies[0][0], replies[1][0], strict=False))
            fault, turnaround = None, self.turnaround_s
        else:
            reply, meter, fault = replies[0]
            turnaround = self.turnaround_s if meter.turnaround_s is None else meter.turnaround_s
        delay = 0.0
        if fault is not None:
            if fault.kind == "bad_crc":
                reply = reply[:-2] + bytes((reply[-2] ^ 0xFF, reply[-1]))
            elif fault.kind == "garbage":
                reply = GARBAGE + reply
            elif fault.kind == "slow" and fault.delay_ms is not None:
                delay = fault.delay_ms / 1000
        send_at = request_end + turnaround + delay + len(reply) * self._char_s
        self._free_at = send_at
        wait = send_at - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if fault is not None and fault.kind == "late":
            self._held = (reply, sink)
        else:
            self._send(sink, reply)

    def _send(self, sink: ReplySink, data: bytes) -> None:
        if sink.send(data):
            self.stats.replies += 1

    # -- what each meter says ------------------------------------------------------------

    def _answers_dlt645(self, frame: bytes) -> list[tuple[int, Callable[[FaultSpec | None],
                                                                         bytes]]]:
        request = dlt645.decode(frame)
        out: list[tuple[int, Callable[[FaultSpec | None], bytes]]] = []
        for unit, meter in self.meters.items():
            if meter.protocol != "dlt645-2007" or not _matches(request.address, meter.address):
                continue
            if request.control == dlt645.READ_ADDRESS:
                out.append((unit, partial(_dlt645_address, meter)))
            elif request.control == dlt645.READ_DATA and len(request.data) >= 4:
                di = int.from_bytes(request.data[:4], "little")
                out.append((unit, partial(_dlt645_data, meter, di)))
        return out

    def _answers_cjt188(self, frame: bytes) -> list[tuple[int, Callable[[FaultSpec | None],
                                                                         bytes]]]:
        request = cjt188.decode(frame)
        if len(request.data) < 3:
            return []
        di = int.from_bytes(request.data[:2], "little")
        ser = request.data[2]
        out: list[tuple[int, Callable[[FaultSpec | None], bytes]]] = []
        for unit, meter in self.meters.items():
            if meter.protocol != "cjt188-2004" or meter.meter_type != request.meter_type \
                    or not _matches(request.address, meter.address):
                continue
            kind = request.meter_type
            if request.control == cjt188.READ_ADDRESS and di == cjt188.READ_ADDRESS_DI:
                out.append((unit, partial(_cjt188_address, meter, kind, ser)))
            elif request.control == cjt188.READ_DATA:
                out.append((unit, partial(_cjt188_data, meter, kind, di, ser)))
        return out


def _from(meter: MeterMemory, fault: FaultSpec | None) -> str:
    """The address a meter's reply carries: another one under `wrong_address`."""
    if fault is not None and fault.kind == "wrong_address":
        return f"{(int(meter.address) + 1) % 10 ** len(meter.address):0{len(meter.address)}d}"
    return meter.address


def _dlt645_address(meter: MeterMemory, fault: FaultSpec | None) -> bytes:
    return dlt645.address_reply(_from(meter, fault))


def _cjt188_address(meter: MeterMemory, kind: int, ser: int, fault: FaultSpec | None) -> bytes:
    return cjt188.address_reply(kind, _from(meter, fault), ser)


def _dlt645_data(meter: MeterMemory, di: int, fault: FaultSpec | None) -> bytes:
    address = _from(meter, fault)
    if fault is not None and fault.kind == "exception":
        return dlt645.error_reply(address, fault.code or 1)
    value = meter.answer(di)
    if value is None:
        return dlt645.error_reply(address, dlt645.NO_DATA)
    return dlt645.data_reply(address, di, value)


def _cjt188_data(meter: MeterMemory, kind: int, di: int, ser: int,
                 fault: FaultSpec | None) -> bytes:
    address = _from(meter, fault)
    value = meter.answer(kind << 16 | di)
    if (fault is not None and fault.kind == "exception") or value is None:
        status = fault.code if fault is not None and fault.code is not None else 1
        return cjt188.error_reply(kind, address, ser, status)
    return cjt188.data_reply(kind, address, di, ser, value)


# -- servers ------------------------------------------------------------------------------


class _TcpClient(asyncio.Protocol):
    def __init__(self, line: MeterLine) -> None:
        self._line = line
        self._framer = RequestFramer()
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._line.stats.connections += 1

    def data_received(self, data: bytes) -> None:
        self._line.feed(self._framer, data, self._loop.time(), self)

    def send(self, data: bytes) -> bool:
        if self._transport is None or self._transport.is_closing():
            return False
        self._transport.write(data)
        return True

    def hang_up(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def serve_meters_tcp(host: str, port: int, meters: Mapping[int, MeterMemory],
                           faults: FaultSwitch | None = None, *, baudrate: int | None = None,
                           parity: Parity = "E", stopbits: StopBits = 1,
                           turnaround_s: float = DEFAULT_TURNAROUND_S) -> ServerHandle:
    """A serial server in front of a meter line; with a baud rate, replies take wire time."""
    stats = ServerStats()
    line = MeterLine(meters, faults or FaultSwitch(), stats, baudrate=baudrate, parity=parity,
                     stopbits=stopbits, turnaround_s=turnaround_s)
    loop = asyncio.get_running_loop()
    clients: list[_TcpClient] = []

    def client() -> _TcpClient:
        clients.append(_TcpClient(line))
        return clients[-1]

    server = await loop.create_server(client, host, port)
    line.start()

    def close() -> None:
        server.close()
        for c in clients:
            c.hang_up()
        line.close()

    async def wait_closed() -> None:
        await server.wait_closed()
        await line.wait_closed()

    return ServerHandle(stats, close, wait_closed, port=bound_port(server))


class _PtyEnd:
    def __init__(self, master: int, line: MeterLine) -> None:
        self._master = master
        self._line = line
        self._framer = RequestFramer()
        self._loop = asyncio.get_running_loop()
        self.closed = False

    def on_readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            log.warning("pty read failed: %s", error)
            return
        if data:
            self._line.feed(self._framer, data, self._loop.time(), self)

    def send(self, data: bytes) -> bool:
        if self.closed:
            return False
        try:
            os.write(self._master, data)
        except BlockingIOError:
            return False
        return True

    def hang_up(self) -> None:
        """A serial line cannot be hung up."""


async def serve_meters_pty(link_path: str, meters: Mapping[int, MeterMemory],
                           faults: FaultSwitch | None = None, *, baudrate: int = 2400,
                           parity: Parity = "E", stopbits: StopBits = 1,
                           turnaround_s: float = DEFAULT_TURNAROUND_S) -> ServerHandle:
    """A meter line on a new pty whose slave is at ``link_path``. As with RTU ptys, clients
    open it with parity N (a pty cannot hold PARENB); ``parity`` sets the wire time."""
    Path(link_path).parent.mkdir(parents=True, exist_ok=True)
    master, slave, tty_name = open_pty(link_path)
    stats = ServerStats()
    line = MeterLine(meters, faults or FaultSwitch(), stats, baudrate=baudrate, parity=parity,
                     stopbits=stopbits, turnaround_s=turnaround_s)
    end = _PtyEnd(master, line)
    loop = asyncio.get_running_loop()
    loop.add_reader(master, end.on_readable)
    line.start()

    def close() -> None:
        end.closed = True
        loop.remove_reader(master)
        line.close()
        os.close(master)
        os.close(slave)
        if os.path.islink(link_path) and os.readlink(link_path) == tty_name:
            os.unlink(link_path)

    return ServerHandle(stats, close, line.wait_closed, path=link_path, tty_name=tty_name)
