"""The Modbus bytes both ends share (pure: no I/O): MBAP frames and packed bits.

The gateway's Modbus TCP link (gateway/acquisition/tcp.py) and the simulators'
servers (simulators/modbus) frame and pack with the same functions: one copy of the
facts. A mistake here would be shared by both ends, so each end is also tested
against pymodbus, which shares nothing with them (the simulators' servers with its
client, tests/simulators/wire; the link with its server, tests/acquisition/test_tcp_link.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from struct import Struct
from typing import Final, NamedTuple

MBAP_HEADER: Final = Struct(">HHHB")  # transaction id, protocol id, length, unit id
MBAP_HEADER_SIZE: Final = 7
MAX_PDU_SIZE: Final = 253


class MbapFrame(NamedTuple):
    transaction_id: int
    protocol_id: int
    unit_id: int
    pdu: bytes


class MbapError(ValueError):
    """The stream cannot be framed any more (bad length field): close the connection."""


def mbap_frame(transaction_id: int, unit_id: int, pdu: bytes) -> bytes:
    return MBAP_HEADER.pack(transaction_id, 0, len(pdu) + 1, unit_id) + pdu


def split_mbap(data: bytes | bytearray) -> tuple[list[MbapFrame], int]:
    """Complete MBAP frames at the start of `data`, and how many bytes they used."""
    frames: list[MbapFrame] = []
    offset = 0
    end = len(data)
    unpack = MBAP_HEADER.unpack_from
    while end - offset >= MBAP_HEADER_SIZE:
        tid, protocol, length, unit = unpack(data, offset)
        if not 2 <= length <= MAX_PDU_SIZE + 1:
            raise MbapError(f"MBAP length {length} not in 2..{MAX_PDU_SIZE + 1}")
        stop = offset + 6 + length
        if stop > end:
            break
        frames.append(MbapFrame(tid, protocol, unit, bytes(data[offset + MBAP_HEADER_SIZE:stop])))
        offset = stop
    return frames, offset


@cache
def unpack_registers(count: int) -> Callable[[bytes, int], tuple[int, ...]]:
    """``count`` big-endian 16-bit registers from a buffer at an offset (one struct per
    count, made once)."""
    return Struct(f">{count}H").unpack_from


def pack_bits(bits: list[int]) -> bytes:
    """Pack bits LSB first, as FC01/02 replies and FC15 requests carry them."""
    out = bytearray((len(bits) + 7) >> 3)
    for i, bit in enumerate(bits):
        if bit:
            out[i >> 3] |= 1 << (i & 7)
    return bytes(out)


def unpack_bits(data: bytes, count: int) -> list[int]:
    return [(data[i >> 3] >> (i & 7)) & 1 for i in range(count)]
