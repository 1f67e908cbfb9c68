"""What a simulated unit exposes to the Modbus wire layer.

The wire layer decodes frames, checks what the protocol itself forbids, and then
asks a `UnitMemory` to read or write. Everything device-specific (which
addresses exist, what a write may contain, how long a read may be) is the
unit's business and is reported back as a `ModbusError` carrying the exception
code to answer with.

A unit may also carry an optional attribute `turnaround_s: float | None`, the
time it takes to start answering; servers use it instead of their default when
it is present and not None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

Table = Literal["coil", "discrete", "holding", "input"]

ILLEGAL_FUNCTION = 0x01
ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03
SERVER_DEVICE_FAILURE = 0x04
ACKNOWLEDGE = 0x05
SERVER_BUSY = 0x06
GATEWAY_PATH_UNAVAILABLE = 0x0A
GATEWAY_TARGET_FAILED = 0x0B


class ModbusError(Exception):
    """Raised by a unit to answer the request with a Modbus exception response."""

    def __init__(self, code: int, message: str = "") -> None:
        if not 1 <= code <= 0xFF:
            raise ValueError(f"Modbus exception code must be 1..255, got {code}")
        super().__init__(message or f"Modbus exception {code:#04x}")
        self.code = code


class UnitMemory(Protocol):
    """The four tables of one unit id, as the wire layer sees them."""

    max_read_registers: int
    """The device's own limit for FC03/FC04 (e.g. 80 for Eastron); longer reads → 03."""
    max_read_bits: int
    """The device's own limit for FC01/FC02; longer reads → 03."""

    def read(self, table: Table, address: int, count: int) -> list[int]:
        """Return `count` values (bits as 0/1, registers as 0..65535) or raise ModbusError."""
        ...

    def write(self, table: Table, address: int, values: list[int]) -> None:
        """Store values at consecutive addresses or raise ModbusError (nothing written)."""
        ...


class DictMemory:
    """A sparse `UnitMemory` for tests: one dict per table, undefined address → 02.

    Coils and holding registers are writable where defined; discrete inputs and
    input registers are read-only, as on the wire.
    """

    def __init__(
        self,
        *,
        coils: Mapping[int, int] | None = None,
        discretes: Mapping[int, int] | None = None,
        holding: Mapping[int, int] | None = None,
        input: Mapping[int, int] | None = None,
        max_read_registers: int = 125,
        max_read_bits: int = 2000,
        turnaround_s: float | None = None,
    ) -> None:
        self.tables: dict[Table, dict[int, int]] = {
            "coil": dict(coils or {}),
            "discrete": dict(discretes or {}),
            "holding": dict(holding or {}),
            "input": dict(input or {}),
        }
        self.max_read_registers = max_read_registers
        self.max_read_bits = max_read_bits
        self.turnaround_s = turnaround_s

    def read(self, table: Table, address: int, count: int) -> list[int]:
        cells = self.tables[table]
        try:
            return [cells[a] for a in range(address, address + count)]
        except KeyError as missing:
            raise ModbusError(ILLEGAL_DATA_ADDRESS, f"{table} {missing} undefined") from None

    def write(self, table: Table, address: int, values: list[int]) -> None:
        if table in ("discrete", "input"):
            raise ModbusError(ILLEGAL_FUNCTION, f"{table} table is read-only")
        cells = self.tables[table]
        limit = 1 if table == "coil" else 0xFFFF
        for offset, value in enumerate(values):
            if address + offset not in cells:
                raise ModbusError(ILLEGAL_DATA_ADDRESS, f"{table} {address + offset} undefined")
            if not 0 <= value <= limit:
                raise ModbusError(ILLEGAL_DATA_VALUE, f"{table} value {value} out of range")
        for offset, value in enumerate(values):
            cells[address + offset] = value
