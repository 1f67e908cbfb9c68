"""Register read replies decoded in one struct call, registered with each pymodbus client.

pymodbus 3.16 decodes a read reply register by register in a Python loop (a
slice, an unpack and an append each: ~20 µs for the 78 registers of one SDM630
block, a fifth of a read's CPU) and formats every register into a debug line
whether or not debug logging is on (``str(pdu)`` in ``DecodePDU.decode``). These
subclasses replace only ``decode`` and ``__str__`` of the replies to function
codes 3 and 4, through pymodbus's public ``client.register``; framing, checks and
exception replies stay pymodbus's. The same bytes give the same registers:
tests/acquisition/test_modbus_replies.py checks them against the stock classes.
"""

from __future__ import annotations

from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersResponse,
    ReadInputRegistersResponse,
)

from gateway.core.modbus_wire import unpack_registers


def _decode(pdu: ReadHoldingRegistersResponse, data: bytes) -> None:
    byte_count = data[0]
    if byte_count >= len(data):
        raise ModbusIOException(f"byte_count {byte_count} > length of packet {len(data)}",
                                function_code=pdu.function_code)
    # an odd count's last byte is ignored, as pymodbus does (the link then finds the
    # reply short of the registers it asked for)
    pdu.registers = list(unpack_registers(byte_count // 2)(data, 1))


def _summary(pdu: ReadHoldingRegistersResponse) -> str:
    return (f"{type(pdu).__name__}(dev_id={pdu.dev_id}, transaction_id={pdu.transaction_id}, "
            f"registers={len(pdu.registers)})")


class HoldingRegistersReply(ReadHoldingRegistersResponse):
    def decode(self, data: bytes) -> None:
        _decode(self, data)

    def __str__(self) -> str:
        return _summary(self)


class InputRegistersReply(ReadInputRegistersResponse):
    def decode(self, data: bytes) -> None:
        _decode(self, data)

    def __str__(self) -> str:
        return _summary(self)


REPLIES = (HoldingRegistersReply, InputRegistersReply)
