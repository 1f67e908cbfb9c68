"""Codec edges that survived mutation (make mutation, docs/testing.md): word orders written
out by hand, the float32 that needs nine digits, a string without a length."""

from __future__ import annotations

import struct

import pytest

from gateway.core.codec import CodecError, decoder, encoder, register_count, shortest_f32

#: 12.5 as float32 is 0x41480000 (IEEE 754): bytes A B C D = 41 48 00 00
TWELVE_AND_A_HALF = {"ABCD": [0x4148, 0x0000], "CDAB": [0x0000, 0x4148],
                     "BADC": [0x4841, 0x0000], "DCBA": [0x0000, 0x4841]}


@pytest.mark.parametrize("order", sorted(TWELVE_AND_A_HALF))
def test_each_word_order_by_hand(order: str) -> None:
    regs = TWELVE_AND_A_HALF[order]
    assert decoder("f32", order)(regs) == 12.5  # type: ignore[arg-type]
    assert encoder("f32", order)(12.5) == regs  # type: ignore[arg-type]


def test_a_float32_that_needs_nine_digits() -> None:
    value = struct.unpack(">f", struct.pack(">I", 3268308804))[0]  # -103.21731567382812
    assert shortest_f32(value) == -103.217316
    assert struct.pack(">f", shortest_f32(value)) == struct.pack(">I", 3268308804)


def test_a_string_needs_its_length() -> None:
    with pytest.raises(CodecError, match=r"^a string needs a length in registers$"):
        register_count("string")
    assert register_count("string", 4) == 4


def test_a_subnormal_gets_its_shortest_form_from_one_digit() -> None:
    smallest = struct.unpack(">f", struct.pack(">I", 1))[0]  # 1.401298464324817e-45
    assert shortest_f32(smallest) == 1e-45  # one digit reads back as the same float32
