"""One Modbus link (TCP, RTU on a serial port, RTU over TCP) behind one small interface.

Each link owns exactly one pymodbus client, built with ``retries=0`` and a
short timeout: pymodbus allows one request in flight per client, and its own
retry loop holds the client's lock, starving every other unit on the bus. The
scheduler above does retries, back-off and reconnection; this module does one
request at a time and checks every reply, which pymodbus does not on RTU:

* function code, unit and count must match the request;
* on serial lines a reply cannot arrive faster than the wire can carry the
  request and the reply (the bytes take time at the configured baud rate); a
  reply that does is a stale one from an earlier request, and is refused;
* after a timeout on a serial line we wait a silent interval, so a late reply
  lands while nothing is outstanding (pymodbus discards it) instead of being
  taken for the next answer;
* after a TCP timeout we reconnect, so a stale transaction cannot be read as
  a fresh answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from gateway.acquisition.bus_budget import char_time_s, silent_interval_s
from gateway.site import RtuLink, RtuOverTcpLink, TcpLink

log = logging.getLogger("escogw.link")

LinkConfig = TcpLink | RtuLink | RtuOverTcpLink
_E = TypeVar("_E", bound="LinkError")

READ_FUNCTIONS = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}


class LinkError(Exception):
    """A request did not produce a usable reply. ``kind`` labels metrics."""

    kind = "error"


class DeviceTimeout(LinkError):
    kind = "timeout"


class DeviceException(LinkError):
    """The device answered with a Modbus exception response."""

    kind = "exception"

    def __init__(self, code: int):
        super().__init__(f"exception {code:02X}")
        self.code = code


class BadReply(LinkError):
    """A reply that does not answer the request (wrong function, unit, count, stale)."""

    kind = "bad_reply"


class ShortReply(BadReply):
    """A well-formed reply carrying fewer values than asked (a device's hidden read limit)."""

    kind = "short_reply"


class LinkDown(LinkError):
    """The link itself is not connected (TCP refused, serial port missing)."""

    kind = "link_down"


@dataclass
class LinkStats:
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    last_rtt_s: float = 0.0
    rtt_sum_s: float = 0.0
    busy_s: float = 0.0


class ModbusLink:
    """One request at a time over one pymodbus client, every reply checked."""

    def __init__(self, link_id: str, config: LinkConfig):
        self.id = link_id
        self.config = config
        self.serial = not isinstance(config, TcpLink)
        self.stats = LinkStats()
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._sent_at = 0.0
        self._first_byte_at = 0.0
        self._char_s = 0.0
        self._t35 = 0.0
        if not isinstance(config, TcpLink):
            self._char_s = char_time_s(config.baudrate, config.parity, config.stopbits,
                                       config.bytesize)
            self._t35 = silent_interval_s(config.baudrate, config.parity, config.stopbits)

    @property
    def timeout_s(self) -> float:
        return self.config.timeout_s

    def _trace(self, sending: bool, data: bytes) -> bytes:
        now = time.monotonic()
        if sending:
            self._sent_at = now
            self._first_byte_at = 0.0
        elif not self._first_byte_at:
            self._first_byte_at = now
        return data

    def _make_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        c = self.config
        common: dict[str, Any] = {"timeout": c.timeout_s, "retries": 0,
                                  "reconnect_delay": 0, "trace_packet": self._trace}
        if isinstance(c, TcpLink):
            return AsyncModbusTcpClient(c.host, port=c.port, **common)
        if isinstance(c, RtuOverTcpLink):
            return AsyncModbusTcpClient(c.host, port=c.port, framer=FramerType.RTU, **common)
        return AsyncModbusSerialClient(c.device, baudrate=c.baudrate, parity=c.parity,
                                       stopbits=c.stopbits, bytesize=c.bytesize, **common)

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    async def connect(self) -> bool:
        """Open the link if it is closed; False when it cannot be opened now."""
        if self.connected:
            return True
        if self._client is not None:
            self._client.close()
        self._client = self._make_client()
        try:
            ok = bool(await self._client.connect())
        except (OSError, ModbusException) as exc:
            log.debug("link %s: connect failed: %s", self.id, exc)
            ok = False
        if not ok:
            self._client.close()
            self._client = None
        return ok

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def read(self, unit: int, table: str, address: int, count: int) -> list[int]:
        """Read ``count`` registers or bits; raises a LinkError subclass on any failure."""
        function = READ_FUNCTIONS[table]
        client = await self._ready()
        call = {1: client.read_coils, 2: client.read_discrete_inputs,
                3: client.read_holding_registers, 4: client.read_input_registers}[function]
        reply = await self._execute(call(address, count=count, device_id=unit), unit, function)
        values = reply.bits[:count] if function in (1, 2) else reply.registers
        if len(values) != count:
            raise await self._flushed(self._count(
                ShortReply(f"asked for {count} values, got {len(values)}")))
        if self.serial and self._stale(8):
            raise await self._flushed(self._bad(
                "reply arrived before the request could reach the device "
                "(a stale reply to an earlier request)"))
        return [int(v) for v in values]

    async def write(self, unit: int, table: str, address: int, values: list[int]) -> None:
        """Write holding registers (FC06/16) or coils (FC05/15)."""
        client = await self._ready()
        if table == "holding":
            if len(values) == 1:
                coro, function = client.write_register(address, values[0], device_id=unit), 6
            else:
                coro, function = client.write_registers(address, values, device_id=unit), 16
        elif table == "coil":
            if len(values) == 1:
                coro, function = client.write_coil(address, bool(values[0]), device_id=unit), 5
            else:
                coro, function = client.write_coils(address, [bool(v) for v in values],
                                                    device_id=unit), 15
        else:
            raise ValueError(f"{table} is read-only")
        await self._execute(coro, unit, function)

    async def _ready(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if not await self.connect():
            raise self._count(LinkDown(f"link {self.id} is not connected"))
        assert self._client is not None
        return self._client

    async def _execute(self, coro: Any, unit: int, function: int) -> Any:
        self.stats.requests += 1
        start = time.monotonic()
        try:
            reply = await coro
        except ModbusIOException as exc:
            await self._after_timeout()
            if "transaction id" in str(exc) or "device id" in str(exc):
                raise self._bad(f"reply to another request: {exc}") from None
            raise self._count(DeviceTimeout(f"no reply from unit {unit}")) from None
        except ConnectionException:
            self.close()
            raise self._count(LinkDown(f"link {self.id} lost")) from None
        except (ModbusException, OSError) as exc:
            self.close()
            raise self._bad(f"{type(exc).__name__}: {exc}") from None
        finally:
            rtt = time.monotonic() - start
            self.stats.last_rtt_s = rtt
            self.stats.rtt_sum_s += rtt
            self.stats.busy_s += rtt
        if reply is None:
            raise await self._flushed(self._bad("no reply object"))
        if getattr(reply, "dev_id", unit) not in (unit, 0):
            raise await self._flushed(self._bad(f"reply from unit {reply.dev_id}, asked {unit}"))
        if reply.isError():
            code = int(getattr(reply, "exception_code", 0))
            if reply.function_code != (function | 0x80):
                raise await self._flushed(self._bad(
                    f"exception for function {reply.function_code & 0x7F}, asked {function}"))
            raise self._count(DeviceException(code))
        if reply.function_code != function:
            raise await self._flushed(self._bad(
                f"reply function {reply.function_code}, asked {function}"))
        return reply

    def _stale(self, request_len: int) -> bool:
        """True when the reply began before the wire could carry the request."""
        if not self._first_byte_at:
            return False
        # The request must leave and the reply's first byte arrive: at least the
        # request's frame time plus one character. Half of that allows for clock
        # and driver jitter while still catching replies that were already in flight.
        floor = 0.5 * (request_len + 1) * self._char_s
        return self._first_byte_at - self._sent_at < floor

    async def _flushed(self, exc: LinkError) -> LinkError:
        """Let whatever is still in flight arrive and be discarded before the next request."""
        await self._after_timeout()
        return exc

    async def _after_timeout(self) -> None:
        """Wait out a late reply on serial lines; reconnect TCP (stale transactions)."""
        if isinstance(self.config, TcpLink):
            self.close()
        else:
            await asyncio.sleep(max(self._t35, min(self.config.timeout_s, 0.25)))

    def _bad(self, reason: str) -> BadReply:
        return self._count(BadReply(reason))

    def _count(self, exc: _E) -> _E:
        self.stats.errors[exc.kind] = self.stats.errors.get(exc.kind, 0) + 1
        return exc
