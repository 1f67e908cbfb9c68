"""What the pymodbus links share: one pymodbus client, one request at a time, replies checked.

The RTU links (rtu.py: a serial port, or RTU over TCP through a serial server)
are built on this; the Modbus TCP link (tcp.py) speaks MBAP itself. Each link
owns exactly one pymodbus client, built with ``retries=0`` and a short timeout:
pymodbus allows one request in flight per client, and its own retry loop holds
the client's lock, starving every other unit on the bus. The scheduler above
does retries, back-off and reconnection; a link does one request at a time and
checks every reply, which pymodbus does not on RTU: function code, unit and
count must match the request, and a write's echo must repeat the address and
the value (or count) written. After a failure that may
leave a reply in flight, the link makes sure it cannot be read as the next
answer (``_discard_in_flight``: rtu.py waits for silence).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, TypeVar

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

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
from gateway.acquisition.modbus_replies import REPLIES
from gateway.core.site import Link as LinkConfig

log = logging.getLogger("escogw.link")

Client = AsyncModbusTcpClient | AsyncModbusSerialClient
C = TypeVar("C", bound=LinkConfig)


class ModbusLink(ConfiguredLink[C], ABC):
    """The base of the pymodbus links (rtu.py); implements link.Link."""

    #: whether the scheduler keeps the device's gap between our frames (link.Link)
    keeps_gaps: bool

    def __init__(self, link_id: str, config: C):
        super().__init__(link_id, config)
        self._client: Client | None = None

    @abstractmethod
    def in_sync(self, unit: int) -> bool: ...

    @abstractmethod
    async def read(self, unit: int, table: str, address: int, count: int,
                   probes: Sequence[Probe] = ()) -> list[int]: ...

    @abstractmethod
    def _make_client(self, common: dict[str, Any]) -> Client:
        """A new client for the link's config; ``common``: the options every client gets."""

    @abstractmethod
    async def _discard_in_flight(self) -> None:
        """Make sure a reply still in flight cannot be read as the next request's."""

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    async def connect(self) -> bool:
        """Open the link if it is closed; False when it cannot be opened now."""
        if self.connected:
            return True
        if self._client is not None:
            self._client.close()
        self._client = self._make_client(
            {"timeout": self.config.timeout_s, "retries": 0, "reconnect_delay": 0})
        for reply in REPLIES:
            self._client.register(reply)
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

    # -- reads ------------------------------------------------------------------

    async def _read_reply(self, unit: int, function: int, address: int, count: int) -> Any:
        """Send one read; the reply (normal or exception) with its unit and function checked."""
        client = await self._ready()
        call = {1: client.read_coils, 2: client.read_discrete_inputs,
                3: client.read_holding_registers, 4: client.read_input_registers}[function]
        return await self._execute(call(address, count=count, device_id=unit), unit, function)

    @staticmethod
    def _values(reply: Any, function: int, count: int) -> list[int]:
        """The values of a normal read reply: bits (padded to whole bytes) cut to ``count``."""
        if function in (1, 2):
            return [int(v) for v in reply.bits[:count]]
        return list(reply.registers)

    def _short(self, count: int, values: list[int]) -> ShortReply:
        return self.stats.count(ShortReply(f"asked for {count} values, got {len(values)}"))

    # -- writes -----------------------------------------------------------------

    async def write(self, unit: int, table: str, address: int, values: list[int]) -> None:
        """Write holding registers (FC06/16) or coils (FC05/15); the echo is checked."""
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
        reply = await self._execute(coro, unit, function)
        if reply.isError():
            # an exception reply to a write has the write's own function code: a late
            # one can only be a repeated write's, which leaves the same state behind
            raise self.stats.count(DeviceException(int(reply.exception_code)))
        echo = getattr(reply, "address", address)
        if function in (6, 5):
            written = reply.registers[0] if function == 6 else int(bool(reply.bits[0]))
            same = echo == address and written == (values[0] if function == 6
                                                  else int(bool(values[0])))
        else:
            same = echo == address and getattr(reply, "count", len(values)) == len(values)
        if not same:
            raise await self._flushed(self._bad(
                f"write echo does not match the write to {table} {address}"))

    # -- one exchange -----------------------------------------------------------

    async def _ready(self) -> Client:
        if not await self.connect():
            raise self.stats.count(LinkDown(f"link {self.id} is not connected"))
        assert self._client is not None
        return self._client

    async def _execute(self, coro: Any, unit: int, function: int) -> Any:
        """Send, wait, and check unit and function; exception replies are returned."""
        reply = await self._exchange(coro, unit)
        if reply is None:
            raise await self._flushed(self._bad("no reply object"))
        if getattr(reply, "dev_id", unit) not in (unit, 0):
            raise await self._flushed(self._bad(f"reply from unit {reply.dev_id}, asked {unit}"))
        if reply.isError():
            if reply.function_code != (function | 0x80):
                raise await self._flushed(self._bad(
                    f"exception for function {reply.function_code & 0x7F}, asked {function}"))
        elif reply.function_code != function:
            raise await self._flushed(self._bad(
                f"reply function {reply.function_code}, asked {function}"))
        return reply

    async def _exchange(self, coro: Any, unit: int) -> Any:
        """Send and wait for whatever comes back, timed; transport failures raised."""
        self.stats.requests += 1
        start = time.monotonic()
        try:
            return await coro
        except ModbusIOException as exc:
            await self._discard_in_flight()
            if "transaction id" in str(exc) or "device id" in str(exc):
                raise self._bad(f"reply to another request: {exc}") from None
            raise self.stats.count(DeviceTimeout(f"no reply from unit {unit}")) from None
        except ConnectionException:
            self.close()
            raise self.stats.count(LinkDown(f"link {self.id} lost")) from None
        except (ModbusException, OSError) as exc:
            self.close()
            raise self._bad(f"{type(exc).__name__}: {exc}") from None
        finally:
            self.stats.exchanged(start)

    async def _flushed(self, exc: LinkError) -> LinkError:
        """Let whatever is still in flight arrive and be discarded before the next request."""
        await self._discard_in_flight()
        return exc

    def _bad(self, reason: str) -> BadReply:
        return self.stats.count(BadReply(reason))
