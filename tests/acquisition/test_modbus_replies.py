"""The register replies decoded in one struct call agree with pymodbus's own classes on
every frame, well-formed or not, and keep their debug line short."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.decoders import DecodePDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersResponse,
    ReadInputRegistersResponse,
)

from gateway.acquisition.modbus_replies import (
    REPLIES,
    HoldingRegistersReply,
    InputRegistersReply,
)

PAIRS = [(ReadHoldingRegistersResponse, HoldingRegistersReply),
         (ReadInputRegistersResponse, InputRegistersReply)]


def outcome(cls: type[ModbusPDU], data: bytes) -> object:
    pdu = cls()
    try:
        pdu.decode(data)
    except Exception:  # which exception is pymodbus's business; that it refuses is ours
        return "refused"
    return pdu.registers


@given(registers=st.lists(st.integers(0, 0xFFFF), max_size=125))
def test_well_formed_replies_give_the_same_registers(registers: list[int]) -> None:
    data = bytes([2 * len(registers)]) + struct.pack(f">{len(registers)}H", *registers)
    for stock, ours in PAIRS:
        assert outcome(ours, data) == outcome(stock, data) == registers


@given(data=st.binary(min_size=1, max_size=260))
def test_any_bytes_give_the_same_registers_or_are_refused_alike(data: bytes) -> None:
    for stock, ours in PAIRS:
        assert outcome(ours, data) == outcome(stock, data)


@pytest.mark.parametrize(("function", "cls"), [(3, HoldingRegistersReply),
                                               (4, InputRegistersReply)])
def test_registered_with_a_client_decoder_they_decode_its_replies(
        function: int, cls: type[ModbusPDU]) -> None:
    decoder = DecodePDU(is_server=False)
    for reply in REPLIES:
        decoder.register(reply)
    pdu = decoder.decode(bytes([function, 4, 0x12, 0x34, 0xAB, 0xCD]))
    assert type(pdu) is cls
    assert pdu is not None and pdu.registers == [0x1234, 0xABCD]
    exception = decoder.decode(bytes([function | 0x80, 2]))
    assert exception is not None and exception.isError()


def test_the_debug_line_names_the_count_not_every_register() -> None:
    pdu = InputRegistersReply()
    pdu.decode(bytes([156]) + bytes(156))
    assert str(pdu).endswith("registers=78)")
