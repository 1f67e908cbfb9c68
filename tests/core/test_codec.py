"""Register codec: round trips for every type × order, known vectors, refusals.

The known vectors are written out by hand from vendor documents and well-known
examples, not computed with ``struct``, so a codec bug cannot hide behind the
same bug in the test.
"""

from __future__ import annotations

import math
import struct
from typing import get_args

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.core.codec import (
    DATA_TYPES,
    ORDERS,
    CodecError,
    DataType,
    Order,
    decode,
    decoder,
    encode,
    encoder,
    register_count,
    shortest_f32,
)

INT_RANGES: dict[DataType, tuple[int, int]] = {
    "u16": (0, 2**16 - 1), "i16": (-(2**15), 2**15 - 1),
    "u32": (0, 2**32 - 1), "i32": (-(2**31), 2**31 - 1),
    "u64": (0, 2**64 - 1), "i64": (-(2**63), 2**63 - 1),
    "bits": (0, 2**16 - 1),
}
INT_TYPES = list(INT_RANGES)
orders = st.sampled_from(ORDERS)


def test_type_and_order_lists_match_the_literals() -> None:
    assert set(DATA_TYPES) == set(get_args(DataType))
    assert set(ORDERS) == set(get_args(Order))


def _registers_ok(regs: list[int], count: int) -> None:
    assert len(regs) == count
    assert all(isinstance(r, int) and 0 <= r <= 0xFFFF for r in regs)


# -- round trips ---------------------------------------------------------------------


@st.composite
def int_cases(draw: st.DrawFn) -> tuple[DataType, int]:
    dtype = draw(st.sampled_from(INT_TYPES))
    lo, hi = INT_RANGES[dtype]
    value = draw(st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, lo + 1, hi - 1, 0])))
    return dtype, value


@given(int_cases(), orders)
def test_integers_round_trip(case: tuple[DataType, int], order: Order) -> None:
    dtype, value = case
    regs = encode(value, dtype, order)
    _registers_ok(regs, register_count(dtype))
    assert decode(regs, dtype, order) == value


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", INT_TYPES)
def test_integer_extremes_round_trip(dtype: DataType, order: Order) -> None:
    lo, hi = INT_RANGES[dtype]
    for value in (lo, hi):
        assert decode(encode(value, dtype, order), dtype, order) == value


@given(st.floats(width=32, allow_nan=False), orders)
@example(1.401298464324817e-45, "ABCD")   # smallest f32 subnormal
@example(-0.0, "CDAB")
@example(3.4028234663852886e38, "DCBA")  # largest f32
def test_f32_round_trips_exactly(value: float, order: Order) -> None:
    regs = encode(value, "f32", order)
    _registers_ok(regs, 2)
    out = decode(regs, "f32", order)
    assert out == value
    assert math.copysign(1.0, out) == math.copysign(1.0, value)


@given(st.floats(allow_nan=False), orders)
@example(5e-324, "BADC")                   # smallest f64 subnormal
@example(-2.2250738585072014e-308, "CDAB")  # smallest normal, negative
def test_f64_round_trips_exactly(value: float, order: Order) -> None:
    regs = encode(value, "f64", order)
    _registers_ok(regs, 4)
    out = decode(regs, "f64", order)
    assert out == value
    assert math.copysign(1.0, out) == math.copysign(1.0, value)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("order", ORDERS)
def test_nan_round_trips_as_nan(dtype: DataType, order: Order) -> None:
    out = decode(encode(math.nan, dtype, order), dtype, order)
    assert isinstance(out, float) and math.isnan(out)


def _fits(text: str, length: int) -> bool:
    return len(text.encode("utf-8")) <= 2 * length


texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"),
                max_size=40).filter(lambda s: s == s.strip())


@given(texts, st.integers(1, 20), orders)
@example("SDM630", 4, "ABCD")
@example("机组", 3, "BADC")  # multi-byte UTF-8
def test_strings_round_trip(text: str, length: int, order: Order) -> None:
    if not _fits(text, length):
        with pytest.raises(CodecError):
            encode(text, "string", order, length)
        return
    regs = encode(text, "string", order, length)
    _registers_ok(regs, length)
    assert decode(regs, "string", order, length) == text


# -- the four orders are the same bytes, rearranged ----------------------------------


def _swap_bytes(regs: list[int]) -> list[int]:
    return [((r & 0xFF) << 8) | (r >> 8) for r in regs]


@given(st.sampled_from(["u32", "i32", "u64", "i64", "f32", "f64"]), st.data())
def test_orders_rearrange_abcd(dtype: DataType, data: st.DataObject) -> None:
    if dtype in INT_RANGES:
        value: float = data.draw(st.integers(*INT_RANGES[dtype]))
    else:
        value = data.draw(st.floats(width=32 if dtype == "f32" else 64, allow_nan=False))
    abcd = encode(value, dtype, "ABCD")
    assert encode(value, dtype, "CDAB") == abcd[::-1]
    assert encode(value, dtype, "BADC") == _swap_bytes(abcd)
    assert encode(value, dtype, "DCBA") == _swap_bytes(abcd[::-1])


@given(st.sampled_from(["u16", "i16", "bits"]), st.data())
def test_sixteen_bit_values_only_care_about_byte_order(dtype: DataType,
                                                       data: st.DataObject) -> None:
    value = data.draw(st.integers(*INT_RANGES[dtype]))
    assert encode(value, dtype, "ABCD") == encode(value, dtype, "CDAB")
    assert encode(value, dtype, "BADC") == encode(value, dtype, "DCBA")
    assert encode(value, dtype, "BADC") == _swap_bytes(encode(value, dtype, "ABCD"))


# -- known vectors -------------------------------------------------------------------

KNOWN: list[tuple[str, DataType, Order, int | None, list[int], int | float | str]] = [
    # IEEE-754 230.0 = 0x43660000 (a phase voltage, Eastron/CHINT float meters)
    ("f32 230 V ABCD", "f32", "ABCD", None, [0x4366, 0x0000], 230.0),
    ("f32 230 V CDAB", "f32", "CDAB", None, [0x0000, 0x4366], 230.0),
    ("f32 230 V BADC", "f32", "BADC", None, [0x6643, 0x0000], 230.0),
    ("f32 230 V DCBA", "f32", "DCBA", None, [0x0000, 0x6643], 230.0),
    # Eastron: write 2141.0 (0x4505D000) to holding 0x28 to choose the register order
    ("f32 Eastron 2141.0", "f32", "ABCD", None, [0x4505, 0xD000], 2141.0),
    # TUF-2000M REAL4, low word first: 36.625 °C = 0x42128000
    ("f32 TUF-2000M 36.625", "f32", "CDAB", None, [0x8000, 0x4212], 36.625),
    ("f32 -1.5", "f32", "ABCD", None, [0xBFC0, 0x0000], -1.5),
    ("f64 1.0", "f64", "ABCD", None, [0x3FF0, 0, 0, 0], 1.0),
    ("f64 1.0 CDAB", "f64", "CDAB", None, [0, 0, 0, 0x3FF0], 1.0),
    # ADL400 secondary energy: uint32 ×0.01 kWh, 0x0001E240 = 123456 → 1234.56 kWh
    ("u32 ADL400 energy", "u32", "ABCD", None, [0x0001, 0xE240], 123456),
    ("u32 ADL400 energy CDAB", "u32", "CDAB", None, [0xE240, 0x0001], 123456),
    # ADL400 PF: int16 ×0.001, -0.950 = -950 = 0xFC4A
    ("i16 PF -0.950", "i16", "ABCD", None, [0xFC4A], -950),
    ("i16 PF -0.950 BADC", "i16", "BADC", None, [0x4AFC], -950),
    # CoolMasterNet setpoint ×10 °C: 255 → 25.5 °C
    ("u16 CoolMaster setpoint", "u16", "ABCD", None, [0x00FF], 255),
    ("i16 -1", "i16", "ABCD", None, [0xFFFF], -1),
    ("i32 -2 ABCD", "i32", "ABCD", None, [0xFFFF, 0xFFFE], -2),
    ("i32 -2 CDAB", "i32", "CDAB", None, [0xFFFE, 0xFFFF], -2),
    ("i32 min", "i32", "ABCD", None, [0x8000, 0x0000], -(2**31)),
    ("u64 ABCD", "u64", "ABCD", None, [0x0123, 0x4567, 0x89AB, 0xCDEF], 0x0123456789ABCDEF),
    ("u64 CDAB", "u64", "CDAB", None, [0xCDEF, 0x89AB, 0x4567, 0x0123], 0x0123456789ABCDEF),
    ("u64 BADC", "u64", "BADC", None, [0x2301, 0x6745, 0xAB89, 0xEFCD], 0x0123456789ABCDEF),
    ("u64 DCBA", "u64", "DCBA", None, [0xEFCD, 0xAB89, 0x6745, 0x2301], 0x0123456789ABCDEF),
    ("i64 -1", "i64", "DCBA", None, [0xFFFF] * 4, -1),
    ("bits", "bits", "ABCD", None, [0x8001], 0x8001),
    ("string ABCD", "string", "ABCD", 4, [0x5344, 0x4D36, 0x3330, 0x0000], "SDM630"),
    ("string BADC", "string", "BADC", 4, [0x4453, 0x364D, 0x3033, 0x0000], "SDM630"),
    ("string CDAB", "string", "CDAB", 4, [0x0000, 0x3330, 0x4D36, 0x5344], "SDM630"),
]


@pytest.mark.parametrize(("dtype", "order", "length", "regs", "value"),
                         [k[1:] for k in KNOWN], ids=[k[0] for k in KNOWN])
def test_known_vectors(dtype: DataType, order: Order, length: int | None, regs: list[int],
                       value: int | float | str) -> None:
    assert decode(regs, dtype, order, length) == value
    assert encode(value, dtype, order, length) == regs


def test_scaled_vectors() -> None:
    """The scale step that profiles add on top (Point.decode rounds to 9 decimals)."""
    assert round(int(decode([0x0001, 0xE240], "u32")) * 0.01, 9) == 1234.56
    assert round(int(decode([0xFC4A], "i16")) * 0.001, 9) == -0.95
    assert round(int(decode([0x00FF], "u16")) * 0.1, 9) == 25.5


def test_string_padding_and_trailing_spaces() -> None:
    # Devices pad with NULs or spaces; both are dropped.
    assert decode([0x4142, 0x2020], "string", "ABCD", 2) == "AB"
    assert decode([0x4142, 0x0043], "string", "ABCD", 2) == "AB"  # stops at the first NUL


# -- refusals ------------------------------------------------------------------------


@st.composite
def out_of_range(draw: st.DrawFn) -> tuple[DataType, int]:
    dtype = draw(st.sampled_from(INT_TYPES))
    lo, hi = INT_RANGES[dtype]
    value = draw(st.one_of(st.integers(max_value=lo - 1), st.integers(min_value=hi + 1),
                           st.sampled_from([lo - 1, hi + 1])))
    return dtype, value


@given(out_of_range(), orders)
def test_out_of_range_integers_raise_never_wrap(case: tuple[DataType, int],
                                                order: Order) -> None:
    dtype, value = case
    with pytest.raises(CodecError):
        encode(value, dtype, order)


@pytest.mark.parametrize(("value", "dtype"), [
    (65536, "u16"), (-1, "u16"), (32768, "i16"), (-32769, "i16"),
    (2**32, "u32"), (-1, "u32"), (2**31, "i32"), (2**64, "u64"), (2**63, "i64"),
    (1.5, "u16"), (-0.5, "i32"), (math.inf, "u32"), (math.nan, "i16"), (1e20, "u64"),
    ("12", "u16"), ("1.0", "f32"),
    (1e39, "f32"), (-1e39, "f32"), (3.5e38, "f32"),
])
def test_unrepresentable_values_raise(value: int | float | str, dtype: DataType) -> None:
    for order in ORDERS:
        with pytest.raises(CodecError):
            encode(value, dtype, order)


def test_whole_floats_are_accepted_for_integers() -> None:
    assert encode(255.0, "u16") == [0x00FF]
    assert encode(-950.0, "i16") == [0xFC4A]


def test_too_long_string_raises() -> None:
    with pytest.raises(CodecError):
        encode("ABCDE", "string", "ABCD", 2)
    with pytest.raises(CodecError):
        encode("机组", "string", "ABCD", 2)  # 6 bytes in 4


@pytest.mark.parametrize(("dtype", "regs", "length"), [
    ("u16", [], None), ("u16", [1, 2], None), ("i16", [1, 2], None),
    ("u32", [1], None), ("i32", [1, 2, 3], None), ("f32", [1], None), ("f32", [1, 2, 3], None),
    ("u64", [1, 2, 3], None), ("f64", [1, 2], None), ("i64", [1, 2, 3, 4, 5], None),
    ("string", [0x4142], 2), ("bits", [], None),
])
def test_wrong_register_count_raises(dtype: DataType, regs: list[int], length: int | None) -> None:
    with pytest.raises(CodecError, match="registers"):
        decode(regs, dtype, "ABCD", length)


@pytest.mark.parametrize("regs", [[0x10000], [-1], [0, 70000]])
def test_register_values_outside_16_bits_raise(regs: list[int]) -> None:
    dtype: DataType = "u16" if len(regs) == 1 else "u32"
    with pytest.raises(CodecError, match=r"outside 0\.\.65535"):
        decode(regs, dtype)


@pytest.mark.parametrize("length", [None, 0, -1])
def test_string_needs_a_length(length: int | None) -> None:
    with pytest.raises(CodecError):
        register_count("string", length)
    with pytest.raises(CodecError):
        decoder("string", "ABCD", length)
    with pytest.raises(CodecError):
        encoder("string", "ABCD", length)


def test_register_counts() -> None:
    assert [register_count(t) for t in ("u16", "i16", "bits", "u32", "i32", "f32",
                                        "u64", "i64", "f64")] == [1, 1, 1, 2, 2, 2, 4, 4, 4]
    assert register_count("string", 7) == 7


# --- a decoded float32 keeps every digit its register holds (issue 14, finding 10) ---

@pytest.mark.parametrize(("value", "published"), [
    (123468.75, 123468.75),      # 7 significant digits made this 123468.8
    (1234567.8, 1234567.8),      # float32 1234567.75: the shortest decimal that reads back
    (230.1, 230.1),              # binary noise dropped: 230.10000610351562
    (0.1, 0.1),
    (49.99, 49.99),
])
def test_f32_keeps_every_digit_and_drops_the_noise(value: float, published: float) -> None:
    assert shortest_f32(decode(encode(value, "f32"), "f32")) == published


def test_a_meter_counter_decodes_to_the_shortest_exact_decimal() -> None:
    from gateway.core.profile import ProfileLibrary

    point = ProfileLibrary().get("eastron-sdm630").points["energy_import_kwh"]
    assert point.decode(encode(123468.75, "f32")) == 123468.75


@given(st.integers(0, 2**32 - 1))
def test_shortest_f32_reads_back_bit_for_bit(bits: int) -> None:
    value = struct.unpack(">f", bits.to_bytes(4, "big"))[0]
    if not math.isfinite(value):
        return
    out = shortest_f32(value)
    assert struct.pack(">f", out) == struct.pack(">f", value)
    first = next(c for c in (float(f"{value:.{d}g}") for d in range(1, 10))
                 if struct.pack(">f", c) == struct.pack(">f", value))
    assert out == first  # no shorter decimal reads back as the same float32


def test_shortest_f32_around_every_power_of_two() -> None:
    """Where a float32's neighbours are unevenly spaced, the shortest decimal is still the
    first length that reads back (shortest_f32 tries seven digits before six)."""
    for exponent in range(1, 255):
        for sign in (0, 1 << 31):
            for step in (-2, -1, 0, 1, 2):
                bits = ((sign | exponent << 23) + step) & 0xFFFFFFFF
                value = struct.unpack(">f", bits.to_bytes(4, "big"))[0]
                if not math.isfinite(value):
                    continue
                first = next(c for c in (float(f"{value:.{d}g}") for d in range(1, 10))
                             if struct.pack(">f", c) == struct.pack(">f", value))
                assert shortest_f32(value) == first, hex(bits)
