"""Modbus requests as the TCP link sends them, and its replies checked (pure: no I/O).

A reply PDU is checked against the request it answers: the same function code
(or that code with 0x80, an exception reply), a byte count that agrees with
the PDU's length, and for a write the echo of the request. Whatever a peer
sends, the outcome is values, a ``DeviceException``, or a ``BadReply`` saying
what was wrong — never an exception of another kind.
"""

from __future__ import annotations

from struct import Struct
from typing import Final

from gateway.acquisition.link import BadReply, DeviceException
from gateway.core.modbus_wire import pack_bits, unpack_bits, unpack_registers

_FC_ADDR_WORD: Final = Struct(">BHH")  # reads, FC05/06, and the echo of FC15/16
_FC_ADDR_COUNT_BYTES: Final = Struct(">BHHB")  # FC15/16 request header


def read_request(function: int, address: int, count: int) -> bytes:
    """FC01–04: read ``count`` bits or registers from ``address``."""
    return _FC_ADDR_WORD.pack(function, address, count)


def write_request(table: str, address: int, values: list[int]) -> bytes:
    """FC05/06 for one value, FC15/16 for several; ``table`` is "coil" or "holding"."""
    if table == "holding":
        if len(values) == 1:
            return _FC_ADDR_WORD.pack(6, address, values[0])
        return _FC_ADDR_COUNT_BYTES.pack(16, address, len(values), 2 * len(values)) + \
            Struct(f">{len(values)}H").pack(*values)
    if table == "coil":
        if len(values) == 1:
            return _FC_ADDR_WORD.pack(5, address, 0xFF00 if values[0] else 0)
        bits = pack_bits([1 if v else 0 for v in values])
        return _FC_ADDR_COUNT_BYTES.pack(15, address, len(values), len(bits)) + bits
    raise ValueError(f"{table} is read-only")


def check_function(function: int, pdu: bytes) -> None:
    """Raise DeviceException for an exception reply to ``function``, BadReply for a reply
    to another function; return for a normal reply."""
    if not pdu:
        raise BadReply("an empty reply")
    got = pdu[0]
    if got == function:
        return
    if got == function | 0x80:
        if len(pdu) != 2:
            raise BadReply(f"an exception reply of {len(pdu)} bytes")
        raise DeviceException(pdu[1])
    if got & 0x80:
        raise BadReply(f"exception for function {got & 0x7F}, asked {function}")
    raise BadReply(f"reply function {got}, asked {function}")


def read_values(function: int, count: int, pdu: bytes) -> list[int]:
    """The values of a normal reply to a read of ``count`` (function already checked):
    registers, or bits cut to ``count``. Fewer or more than asked are returned as they
    came (the link calls that a short reply)."""
    if len(pdu) < 2 or pdu[1] != len(pdu) - 2:
        raise BadReply(f"read reply of {len(pdu)} bytes with a byte count of "
                       f"{pdu[1] if len(pdu) > 1 else 'none'}")
    size = pdu[1]
    if function in (1, 2):
        bits = min(count, 8 * size)
        return unpack_bits(pdu[2:], bits)
    if size % 2:
        raise BadReply(f"an odd byte count ({size}) in a register reply")
    return list(unpack_registers(size // 2)(pdu, 2))


def check_echo(request: bytes, pdu: bytes) -> None:
    """A write's reply repeats the address and the value (FC05/06) or count (FC15/16)."""
    if pdu != request[:5]:
        raise BadReply(f"write echo {pdu.hex()} does not match the write {request[:5].hex()}")
