"""PDU decoding and encoding, without sockets."""

from __future__ import annotations

import struct

import pytest

from gateway.core.modbus_wire import pack_bits, unpack_bits
from simulators.modbus import DictMemory, ModbusError
from simulators.modbus.pdu import Request, decode_request, exception_pdu, respond


def _unit() -> DictMemory:
    return DictMemory(
        coils={a: 0 for a in range(20)},
        discretes={0: 1, 1: 0, 2: 1},
        holding={a: a * 3 for a in range(130)},
        input={0: 0xFFFF},
        max_read_registers=80,
        max_read_bits=10,
    )


def test_bits_are_packed_lsb_first() -> None:
    bits = [1, 0, 1, 1, 0, 0, 0, 0, 1, 1]
    assert pack_bits(bits) == bytes([0b00001101, 0b00000011])
    assert unpack_bits(pack_bits(bits), 10) == bits
    assert pack_bits([]) == b""


@pytest.mark.parametrize(
    ("pdu", "decoded"),
    [
        (struct.pack(">BHH", 3, 10, 125), Request(3, 10, 125)),
        (struct.pack(">BHH", 1, 0, 2000), Request(1, 0, 2000)),
        (struct.pack(">BHH", 5, 7, 0xFF00), Request(5, 7, 1, [1])),
        (struct.pack(">BHH", 5, 7, 0), Request(5, 7, 1, [0])),
        (struct.pack(">BHH", 6, 1, 0xABCD), Request(6, 1, 1, [0xABCD])),
        (struct.pack(">BHHBHH", 16, 2, 2, 4, 1, 2), Request(16, 2, 2, [1, 2])),
        (struct.pack(">BHHBB", 15, 0, 3, 1, 0b101), Request(15, 0, 3, [1, 0, 1])),
        (struct.pack(">BHH", 3, 0xFFFF, 1), Request(3, 0xFFFF, 1)),
    ],
)
def test_decode(pdu: bytes, decoded: Request) -> None:
    assert decode_request(pdu) == decoded


@pytest.mark.parametrize(
    ("pdu", "code"),
    [
        (b"", 1),
        (bytes([0x80, 0, 0, 0, 1]), 1),
        (struct.pack(">BHH", 3, 0, 126), 3),
        (struct.pack(">BHH", 4, 0, 0), 3),
        (struct.pack(">BHH", 2, 0, 2001), 3),
        (struct.pack(">BHH", 3, 0xFFFF, 2), 2),
        (struct.pack(">BHHB", 16, 0, 124, 0), 3),
        (struct.pack(">BHHB", 16, 0, 1, 2), 3),  # data missing
        (struct.pack(">BHHBHH", 16, 0xFFFF, 2, 4, 1, 2), 2),
        (struct.pack(">BHHB", 15, 0, 1969, 247) + bytes(247), 3),
        (struct.pack(">BHH", 5, 0, 1), 3),
        (struct.pack(">BHHH", 3, 0, 1, 0), 3),  # trailing bytes
    ],
)
def test_decode_rejects(pdu: bytes, code: int) -> None:
    with pytest.raises(ModbusError) as raised:
        decode_request(pdu)
    assert raised.value.code == code


def test_respond_reads_and_writes() -> None:
    unit = _unit()
    assert respond(unit, struct.pack(">BHH", 3, 1, 2)) == bytes([3, 4, 0, 3, 0, 6])
    assert respond(unit, struct.pack(">BHH", 4, 0, 1)) == bytes([4, 2, 0xFF, 0xFF])
    assert respond(unit, struct.pack(">BHH", 2, 0, 3)) == bytes([2, 1, 0b101])
    assert respond(unit, struct.pack(">BHH", 5, 3, 0xFF00)) == struct.pack(">BHH", 5, 3, 0xFF00)
    assert unit.tables["coil"][3] == 1
    req = struct.pack(">BHHBHHH", 16, 0, 3, 6, 9, 8, 7)
    assert respond(unit, req) == struct.pack(">BHH", 16, 0, 3)
    assert [unit.tables["holding"][a] for a in range(3)] == [9, 8, 7]
    req = struct.pack(">BHHBB", 15, 8, 4, 1, 0b1010)
    assert respond(unit, req) == struct.pack(">BHH", 15, 8, 4)
    assert [unit.tables["coil"][a] for a in range(8, 12)] == [0, 1, 0, 1]


def test_device_limits_answer_03_before_memory_is_asked() -> None:
    unit = _unit()
    assert respond(unit, struct.pack(">BHH", 3, 0, 80))[0] == 3
    assert respond(unit, struct.pack(">BHH", 3, 0, 81)) == exception_pdu(3, 3)
    assert respond(unit, struct.pack(">BHH", 1, 0, 11)) == exception_pdu(1, 3)
    assert respond(unit, struct.pack(">BHH", 3, 200, 81)) == exception_pdu(3, 3)  # 03 before 02


def test_memory_errors_become_exception_replies() -> None:
    unit = _unit()
    assert respond(unit, struct.pack(">BHH", 4, 0, 2)) == exception_pdu(4, 2)
    assert respond(unit, struct.pack(">BHH", 6, 500, 1)) == exception_pdu(6, 2)
    assert respond(unit, struct.pack(">BHH", 0x2B, 0, 0)) == exception_pdu(0x2B, 1)


def test_a_broken_unit_answers_04() -> None:
    class Broken(DictMemory):
        def read(self, table: str, address: int, count: int) -> list[int]:
            return [70000] * count  # not a register value

    unit = Broken(holding={0: 1})
    assert respond(unit, struct.pack(">BHH", 3, 0, 1)) == exception_pdu(3, 4)
