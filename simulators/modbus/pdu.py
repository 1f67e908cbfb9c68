"""Request and response PDUs for FC 01, 02, 03, 04, 05, 06, 15 and 16.

Checks follow the order of the Modbus Application Protocol (V1.1b3, §6 state
diagrams): unknown function → 01, quantity or byte count out of spec → 03,
address range past 0xFFFF → 02, and only then the device: its own read limit
→ 03, its memory's verdict (usually 02) and anything unexpected → 04.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from struct import Struct
from typing import Final

from gateway.core.modbus_wire import pack_bits, unpack_bits
from simulators.modbus.memory import (
    ILLEGAL_DATA_ADDRESS,
    ILLEGAL_DATA_VALUE,
    ILLEGAL_FUNCTION,
    SERVER_DEVICE_FAILURE,
    ModbusError,
    Table,
    UnitMemory,
)

log = logging.getLogger(__name__)

READ_COILS: Final = 0x01
READ_DISCRETE_INPUTS: Final = 0x02
READ_HOLDING_REGISTERS: Final = 0x03
READ_INPUT_REGISTERS: Final = 0x04
WRITE_SINGLE_COIL: Final = 0x05
WRITE_SINGLE_REGISTER: Final = 0x06
WRITE_MULTIPLE_COILS: Final = 0x0F
WRITE_MULTIPLE_REGISTERS: Final = 0x10

WRITE_FUNCTIONS: Final = frozenset({0x05, 0x06, 0x0F, 0x10})

MAX_READ_BITS: Final = 2000
MAX_READ_REGISTERS: Final = 125
MAX_WRITE_BITS: Final = 1968
MAX_WRITE_REGISTERS: Final = 123

_TABLE: Final[dict[int, Table]] = {
    0x01: "coil",
    0x02: "discrete",
    0x03: "holding",
    0x04: "input",
    0x05: "coil",
    0x06: "holding",
    0x0F: "coil",
    0x10: "holding",
}

_FC_ADDR_WORD = Struct(">BHH")  # reads, FC05/06 requests and replies, FC15/16 replies
_FC_ADDR_COUNT_BYTES = Struct(">BHHB")  # FC15/16 request header
_FC_BYTES = Struct(">BB")
# _REGISTERS[n] packs/unpacks n registers; _READ_REPLY[n] is FC, byte count, n registers.
_REGISTERS: Final = [Struct(f">{n}H") for n in range(MAX_READ_REGISTERS + 1)]
_READ_REPLY: Final = [Struct(f">BB{n}H") for n in range(MAX_READ_REGISTERS + 1)]


@dataclass(slots=True)
class Request:
    """A decoded request. `values` holds what a write carries (bits as 0/1), None for reads."""

    function: int
    address: int
    count: int
    values: list[int] | None = None


def exception_pdu(function: int, code: int) -> bytes:
    return bytes((function | 0x80, code))


def read_bits_response(function: int, bits: list[int]) -> bytes:
    packed = pack_bits(bits)
    return _FC_BYTES.pack(function, len(packed)) + packed


def read_registers_response(function: int, registers: list[int]) -> bytes:
    n = len(registers)
    return _READ_REPLY[n].pack(function, 2 * n, *registers)


def write_response(request: Request) -> bytes:
    fc = request.function
    if fc == WRITE_SINGLE_COIL:
        assert request.values is not None
        return _FC_ADDR_WORD.pack(fc, request.address, 0xFF00 if request.values[0] else 0)
    if fc == WRITE_SINGLE_REGISTER:
        assert request.values is not None
        return _FC_ADDR_WORD.pack(fc, request.address, request.values[0])
    return _FC_ADDR_WORD.pack(fc, request.address, request.count)


def decode_request(pdu: bytes) -> Request:
    """Decode a request PDU; raise ModbusError(01/02/03) when the protocol forbids it."""
    if not pdu:
        raise ModbusError(ILLEGAL_FUNCTION, "empty PDU")
    fc = pdu[0]
    if READ_COILS <= fc <= READ_INPUT_REGISTERS:
        if len(pdu) != 5:
            raise ModbusError(ILLEGAL_DATA_VALUE, f"FC{fc:02d} request of {len(pdu)} bytes")
        _, address, count = _FC_ADDR_WORD.unpack(pdu)
        limit = MAX_READ_BITS if fc <= READ_DISCRETE_INPUTS else MAX_READ_REGISTERS
        if not 1 <= count <= limit:
            raise ModbusError(ILLEGAL_DATA_VALUE, f"FC{fc:02d} count {count} not in 1..{limit}")
        _check_range(address, count)
        return Request(fc, address, count)
    if fc in (WRITE_SINGLE_COIL, WRITE_SINGLE_REGISTER):
        if len(pdu) != 5:
            raise ModbusError(ILLEGAL_DATA_VALUE, f"FC{fc:02d} request of {len(pdu)} bytes")
        _, address, value = _FC_ADDR_WORD.unpack(pdu)
        if fc == WRITE_SINGLE_REGISTER:
            return Request(fc, address, 1, [value])
        if value not in (0x0000, 0xFF00):
            raise ModbusError(ILLEGAL_DATA_VALUE, f"FC05 value {value:#06x}")
        return Request(fc, address, 1, [1 if value else 0])
    if fc in (WRITE_MULTIPLE_COILS, WRITE_MULTIPLE_REGISTERS):
        if len(pdu) < 6:
            raise ModbusError(ILLEGAL_DATA_VALUE, f"FC{fc:02d} request of {len(pdu)} bytes")
        _, address, count, nbytes = _FC_ADDR_COUNT_BYTES.unpack_from(pdu)
        if fc == WRITE_MULTIPLE_COILS:
            limit, expected = MAX_WRITE_BITS, (count + 7) >> 3
        else:
            limit, expected = MAX_WRITE_REGISTERS, 2 * count
        if not 1 <= count <= limit or nbytes != expected or len(pdu) != 6 + nbytes:
            raise ModbusError(
                ILLEGAL_DATA_VALUE,
                f"FC{fc:02d} count {count}, byte count {nbytes}, {len(pdu) - 6} data bytes",
            )
        _check_range(address, count)
        if fc == WRITE_MULTIPLE_COILS:
            return Request(fc, address, count, unpack_bits(pdu[6:], count))
        return Request(fc, address, count, list(_REGISTERS[count].unpack_from(pdu, 6)))
    raise ModbusError(ILLEGAL_FUNCTION, f"function {fc:#04x} not supported")


def _check_range(address: int, count: int) -> None:
    if address + count > 0x10000:
        raise ModbusError(ILLEGAL_DATA_ADDRESS, f"{address}+{count} past the address space")


def execute(unit: UnitMemory, request: Request) -> bytes:
    """Run a decoded request against a unit and return the normal response PDU.

    Raises ModbusError from the device's limits or its memory.
    """
    fc = request.function
    table = _TABLE[fc]
    if request.values is not None:
        unit.write(table, request.address, request.values)
        return write_response(request)
    if fc >= READ_HOLDING_REGISTERS:
        if request.count > unit.max_read_registers:
            raise ModbusError(ILLEGAL_DATA_VALUE, f"count {request.count} over device limit")
        registers = unit.read(table, request.address, request.count)
        if len(registers) != request.count:
            raise ModbusError(SERVER_DEVICE_FAILURE, "memory returned a wrong count")
        return read_registers_response(fc, registers)
    if request.count > unit.max_read_bits:
        raise ModbusError(ILLEGAL_DATA_VALUE, f"count {request.count} over device limit")
    bits = unit.read(table, request.address, request.count)
    if len(bits) != request.count:
        raise ModbusError(SERVER_DEVICE_FAILURE, "memory returned a wrong count")
    return read_bits_response(fc, bits)


def respond(unit: UnitMemory, pdu: bytes) -> bytes:
    """Answer one request PDU: the normal response, or an exception response."""
    try:
        return execute(unit, decode_request(pdu))
    except ModbusError as error:
        return exception_pdu(pdu[0] if pdu else 0, error.code)
    except Exception:
        # A unit that breaks (bad value, bug) answers like a device with an internal fault.
        log.warning("unit failed on request %s; answering 04", pdu.hex(), exc_info=True)
        return exception_pdu(pdu[0], SERVER_DEVICE_FAILURE)
