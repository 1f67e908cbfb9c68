"""Modbus TCP links: the MBAP transaction id tells every reply apart.

A reply that comes after its request timed out carries an old transaction id
and pymodbus drops it; the link still reconnects after a timeout or a wrong
reply, so nothing of an abandoned exchange is left on the connection. No gaps
are kept: the device (or the gateway in front of its serial line) owns the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymodbus.client import AsyncModbusTcpClient

from gateway.acquisition.link import DeviceException, Probe
from gateway.acquisition.modbus import ModbusLink
from gateway.core.profile import READ_FUNCTION
from gateway.core.site import TcpLink


class TcpModbusLink(ModbusLink[TcpLink]):
    keeps_gaps = False

    def in_sync(self, unit: int) -> bool:
        return True  # transaction ids keep every unit in step

    def _make_client(self, common: dict[str, Any]) -> AsyncModbusTcpClient:
        return AsyncModbusTcpClient(self.config.host, port=self.config.port, **common)

    async def read(self, unit: int, table: str, address: int, count: int,
                   probes: Sequence[Probe] = ()) -> list[int]:
        """Read ``count`` registers or bits; ``probes`` are not needed here."""
        function = READ_FUNCTION[table]
        reply = await self._read_reply(unit, function, address, count)
        if reply.isError():
            raise self.stats.count(DeviceException(int(reply.exception_code)))
        values = self._values(reply, function, count)
        if len(values) != count:
            raise self._short(count, values)
        return values

    async def _discard_in_flight(self) -> None:
        self.close()  # a new connection: the abandoned transaction cannot come back on it
