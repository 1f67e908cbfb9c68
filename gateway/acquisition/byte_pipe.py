"""Raw bytes to and from a serial line: a serial port, or a serial server over TCP.

The meter links (meter_link.py) frame their own bytes, so they need a pipe
and nothing more: write a frame, read what arrives until a deadline, throw
away what is left over. pymodbus owns the Modbus links' ports; these pipes
are for lines that carry DL/T 645 and CJ/T 188 frames. Both pipes collect
incoming bytes from the event loop into one buffer (no thread, no blocking
read), so a late reply is never half-consumed by a cancelled read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Protocol

import serial

#: More unread input than this is noise on the line: the oldest is dropped.
MAX_BUFFER = 4096


class BytePipe(Protocol):
    @property
    def is_open(self) -> bool: ...

    async def open(self) -> None:
        """Raises OSError (or serial.SerialException) when the line cannot be opened now."""
        ...

    def write(self, data: bytes) -> None: ...

    async def read(self, until: float) -> bytes:
        """Bytes that arrived, waiting until ``until`` (time.monotonic) for some; b"" then.

        Raises OSError once the line is gone (port unplugged, connection closed)."""
        ...

    def drop_input(self) -> None:
        """Forget whatever arrived and was not read."""
        ...

    def close(self) -> None: ...


class _Buffered:
    """The incoming side both pipes share."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._arrived = asyncio.Event()
        self._lost: str | None = "not open"

    def _received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > MAX_BUFFER:
            del self._buffer[:-MAX_BUFFER]
        self._arrived.set()

    def _gone(self, why: str) -> None:
        self._lost = why
        self._arrived.set()

    async def read(self, until: float) -> bytes:
        while not self._buffer and self._lost is None:
            self._arrived.clear()
            left = until - time.monotonic()
            if left <= 0:
                return b""
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)
        if not self._buffer:
            raise OSError(self._lost)
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def drop_input(self) -> None:
        self._buffer.clear()


class SerialPipe(_Buffered):
    """A serial port, read when the event loop sees it readable."""

    def __init__(self, device: str, baudrate: int, parity: str, stopbits: int, bytesize: int):
        super().__init__()
        self._settings = {"port": device, "baudrate": baudrate, "parity": parity,
                          "stopbits": stopbits, "bytesize": bytesize}
        self._port: serial.Serial | None = None

    @property
    def is_open(self) -> bool:
        return self._port is not None

    async def open(self) -> None:
        port = serial.Serial(timeout=0, write_timeout=1, exclusive=True, **self._settings)
        self._port = port
        self._lost = None
        self._buffer.clear()
        asyncio.get_running_loop().add_reader(port.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        if self._port is None:
            return
        try:
            data = os.read(self._port.fileno(), 4096)
        except BlockingIOError:
            return
        except OSError as exc:  # the adapter was unplugged
            self.close()
            self._gone(f"serial port lost: {exc}")
            return
        self._received(data)

    def write(self, data: bytes) -> None:
        if self._port is None:
            raise OSError("serial port is closed")
        self._port.write(data)

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(port.fileno())
            port.close()
            self._gone("serial port closed")


class _Stream(asyncio.Protocol):
    def __init__(self, pipe: TcpPipe):
        self._pipe = pipe

    def data_received(self, data: bytes) -> None:
        self._pipe._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._pipe._transport = None
        self._pipe._gone("serial server closed the connection")


class TcpPipe(_Buffered):
    """The TCP side of a transparent serial server: bytes in, bytes out."""

    def __init__(self, host: str, port: int, connect_timeout_s: float):
        super().__init__()
        self._host, self._port = host, port
        self._timeout = connect_timeout_s
        self._transport: asyncio.Transport | None = None

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: _Stream(self), self._host, self._port), self._timeout)
        self._transport = transport
        self._lost = None
        self._buffer.clear()

    def write(self, data: bytes) -> None:
        if self._transport is None:
            raise OSError("not connected")
        self._transport.write(data)

    def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
            self._gone("connection closed")
