"""Shared pieces of the wire tests: the simulated units, links, raw clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import termios
import tty
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.framer import FramerType

from simulators.modbus import (
    DictMemory,
    FaultSwitch,
    ServerHandle,
    serve_rtu_over_tcp,
    serve_rtu_pty,
    serve_tcp,
)

Transport = Literal["tcp", "rtu_over_tcp", "rtu_pty"]
TRANSPORTS: tuple[Transport, ...] = ("tcp", "rtu_over_tcp", "rtu_pty")
HOLE = 60  # holding register 60 of unit 1 is undefined


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make_units() -> dict[int, DictMemory]:
    """Unit 1: generous; unit 2: an Eastron-like 80-register, 16-bit read limit."""
    return {
        1: DictMemory(
            coils={a: a % 2 for a in range(64)},
            discretes={a: int(a % 3 == 0) for a in range(64)},
            holding={a: 100 + a for a in range(200) if a != HOLE},
            input={a: 200 + a for a in range(200)},
        ),
        2: DictMemory(
            coils={a: 0 for a in range(64)},
            holding={a: 5000 + a for a in range(100)},
            input={a: 6000 + a for a in range(100)},
            max_read_registers=80,
            max_read_bits=16,
        ),
    }


@dataclass
class Link:
    transport: Transport
    handle: ServerHandle
    units: dict[int, DictMemory]
    faults: FaultSwitch
    clock: FakeClock
    tmp_path: str
    baudrate: int | None = None
    clients: list[Any] = field(default_factory=list)

    def client(self, timeout: float = 1.0) -> Any:
        """A pymodbus client for this link (not yet connected)."""
        client: Any
        if self.transport == "rtu_pty":
            assert self.handle.path is not None
            client = AsyncModbusSerialClient(
                self.handle.path,
                baudrate=self.baudrate or 115200,
                # A Linux pty cannot hold PARENB; pyserial then fails with EINVAL (pyserial#196).
                # The simulator emulates 8E1 wire time whatever the client asks for.
                parity="N",
                stopbits=1,
                timeout=timeout,
                retries=0,
            )
        else:
            framer = FramerType.RTU if self.transport == "rtu_over_tcp" else FramerType.SOCKET
            assert self.handle.port is not None
            client = AsyncModbusTcpClient(
                "127.0.0.1",
                port=self.handle.port,
                framer=framer,
                timeout=timeout,
                retries=0,
                reconnect_delay=0,
            )
        self.clients.append(client)
        return client

    @contextlib.asynccontextmanager
    async def connected(self, client_timeout: float = 1.0) -> AsyncIterator[Any]:
        client = self.client(client_timeout)
        assert await client.connect()
        try:
            yield client
        finally:
            client.close()


async def start_link(
    transport: Transport,
    tmp_path: str,
    *,
    baudrate: int | None = None,
    turnaround_s: float = 0.0,
    unknown_unit: Literal["silent", "gateway_exception"] = "gateway_exception",
) -> Link:
    units = make_units()
    clock = FakeClock()
    faults = FaultSwitch(now=clock)
    handle: ServerHandle
    if transport == "tcp":
        handle = await serve_tcp(
            "127.0.0.1", 0, units, faults, unknown_unit=unknown_unit, turnaround_s=turnaround_s
        )
    elif transport == "rtu_over_tcp":
        handle = await serve_rtu_over_tcp(
            "127.0.0.1", 0, units, faults, baudrate=baudrate, turnaround_s=turnaround_s
        )
    else:
        handle = await serve_rtu_pty(
            os.path.join(tmp_path, "ttyRS485"),
            units,
            faults,
            baudrate=baudrate or 115200,
            turnaround_s=turnaround_s,
        )
    return Link(transport, handle, units, faults, clock, tmp_path, baudrate)


async def until(condition: Callable[[], bool], within_s: float = 2.0) -> None:
    """Wait for a condition the server reaches on its own (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.001)


# --- raw clients --------------------------------------------------------------------------------


def mbap_request(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def read_request(fc: int, address: int, count: int) -> bytes:
    return struct.pack(">BHH", fc, address, count)


async def read_mbap(reader: asyncio.StreamReader, wait_s: float = 2.0) -> tuple[int, int, bytes]:
    """One MBAP reply: (transaction id, unit id, PDU)."""
    header = await asyncio.wait_for(reader.readexactly(7), wait_s)
    tid, protocol, length, unit = struct.unpack(">HHHB", header)
    assert protocol == 0
    pdu = await asyncio.wait_for(reader.readexactly(length - 1), wait_s)
    return tid, unit, pdu


def rtu_reply_length(head: bytes) -> int:
    """Length of an RTU reply from its first three bytes."""
    fc = head[1]
    if fc & 0x80:
        return 5
    if fc in (1, 2, 3, 4):
        return 3 + head[2] + 2
    return 8


async def read_rtu(reader: asyncio.StreamReader, wait_s: float = 2.0) -> bytes:
    """One RTU reply frame, CRC included."""
    head = await asyncio.wait_for(reader.readexactly(3), wait_s)
    rest = await asyncio.wait_for(reader.readexactly(rtu_reply_length(head) - 3), wait_s)
    return head + rest


class RawPty:
    """A raw client on the slave side of the simulator's pty."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        termios.tcflush(self.fd, termios.TCIFLUSH)
        self.buffer = b""

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def pending(self) -> bytes:
        """Whatever has arrived, without waiting."""
        with contextlib.suppress(BlockingIOError):
            self.buffer += os.read(self.fd, 4096)
        data, self.buffer = self.buffer, b""
        return data

    async def read_frame(self, wait_s: float = 2.0) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            with contextlib.suppress(BlockingIOError):
                self.buffer += os.read(self.fd, 4096)
            if len(self.buffer) >= 3:
                n = rtu_reply_length(self.buffer)
                if len(self.buffer) >= n:
                    frame, self.buffer = self.buffer[:n], self.buffer[n:]
                    return frame
            if loop.time() > deadline:
                raise TimeoutError(f"no complete frame, have {self.buffer.hex()}")
            await asyncio.sleep(0.001)

    def close(self) -> None:
        os.close(self.fd)
