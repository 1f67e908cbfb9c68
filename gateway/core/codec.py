"""Register codec: Modbus registers ↔ numbers, for every type and byte/word order.

Our own, struct-based: pymodbus's payload helpers were removed and changed
across 3.x and never did byte swaps. Orders name where the bytes of a
big-endian value ``A B C D …`` sit on the wire:

* ``ABCD`` registers high word first, bytes high first (the Modbus default);
* ``CDAB`` word-swapped (low word first);
* ``BADC`` byte-swapped inside each register;
* ``DCBA`` fully little-endian.

For 16-bit values only the byte order matters (ABCD = CDAB, BADC = DCBA).
Each (type, order, length) gets a precompiled decoder, because decoding runs
for every point of every poll.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from functools import cache
from typing import Literal

DataType = Literal["u16", "i16", "u32", "i32", "u64", "i64", "f32", "f64", "string", "bits"]
Order = Literal["ABCD", "DCBA", "BADC", "CDAB"]
DATA_TYPES: tuple[DataType, ...] = ("u16", "i16", "u32", "i32", "u64", "i64", "f32", "f64",
                                    "string", "bits")
ORDERS: tuple[Order, ...] = ("ABCD", "DCBA", "BADC", "CDAB")

_FORMAT: dict[str, str] = {"u16": "H", "i16": "h", "u32": "I", "i32": "i", "u64": "Q",
                           "i64": "q", "f32": "f", "f64": "d", "bits": "H"}
_WORDS: dict[str, int] = {"u16": 1, "i16": 1, "bits": 1, "u32": 2, "i32": 2, "f32": 2,
                          "u64": 4, "i64": 4, "f64": 4}
INTEGER_TYPES = frozenset({"u16", "i16", "u32", "i32", "u64", "i64", "bits"})

Raw = int | float | str
Decoder = Callable[[Sequence[int]], Raw]
Encoder = Callable[[Raw], list[int]]


class CodecError(ValueError):
    """A value that cannot be represented in (or read from) the registers given."""


_F32 = struct.Struct(">f")
_pack_f32 = _F32.pack
_F32_MIN_NORMAL = 1.1754943508222875e-38


def shortest_f32(value: float) -> float:
    """The shortest decimal that reads back as the same float32.

    230.1 arrives as 230.10000610351562 and is published as 230.1; a counter at
    123468.75 kWh keeps every digit (a fixed 7 significant digits would make it
    123468.8, up to 0.5 kWh off at a large site's 1,234,567.8). For a normal float32
    ``.6g`` already gives the shortest form of anything that needs six digits or
    fewer (its relative error is far below the sixth digit); subnormals carry less
    precision and are tried from one digit. No float32 needs more than nine.

    Seven digits are tried first: a measured float32 needs seven or eight nearly
    always, so two attempts settle most values instead of three. When seven read
    back, six are tried too; when seven do not, six do not either (the nearest
    seven-digit decimal is at least as near as any six-digit one), and eight or
    nine follow. tests/core/test_codec.py checks the result against trying every
    length from one digit up, on random float32s and around every power of two
    (where a float32's neighbours are unevenly spaced).
    """
    bits = _pack_f32(value)
    if abs(value) >= _F32_MIN_NORMAL:  # unrolled with constant formats: runs for every f32
        seven = float(f"{value:.7g}")
        if _pack_f32(seven) == bits:
            six = float(f"{value:.6g}")
            return six if _pack_f32(six) == bits else seven
        eight = float(f"{value:.8g}")
        if _pack_f32(eight) == bits:
            return eight
        return float(f"{value:.9g}")
    for digits in range(1, 9):
        candidate = float(f"{value:.{digits}g}")
        if _pack_f32(candidate) == bits:
            return candidate
    return float(f"{value:.9g}")


def finite(raw: float) -> float:
    """``raw`` itself; CodecError for NaN or infinity (no value a profile can stand behind)."""
    if not math.isfinite(raw):
        raise CodecError(f"not a finite number ({raw})")
    return raw


def finite_f32(raw: float) -> float:
    """A float32 read from registers as it is published: refused unless finite, then
    the shortest decimal that reads back as the same float32."""
    return shortest_f32(finite(raw))


def register_count(dtype: DataType, length: int | None = None) -> int:
    """Registers one value of ``dtype`` occupies (``length`` for strings)."""
    if dtype == "string":
        if not length or length < 1:
            raise CodecError("a string needs a length in registers")
        return length
    return _WORDS[dtype]


def _word_layout(order: Order) -> tuple[bool, str]:
    """(words reversed?, byte order of each word) for an order name."""
    return order in ("CDAB", "DCBA"), "<" if order in ("BADC", "DCBA") else ">"


@cache
def decoder(dtype: DataType, order: Order = "ABCD", length: int | None = None) -> Decoder:
    """A function decoding exactly ``register_count`` registers into a value."""
    n = register_count(dtype, length)
    reverse, byte_order = _word_layout(order)
    words = struct.Struct(f"{byte_order}{n}H")
    if dtype == "string":
        def decode_string(regs: Sequence[int]) -> Raw:
            seq = regs[::-1] if reverse else regs
            return words.pack(*seq).split(b"\0", 1)[0].decode("utf-8", "replace").strip()
        return decode_string
    value = struct.Struct(">" + _FORMAT[dtype])
    if n == 1:
        if byte_order == ">":
            if dtype in ("u16", "bits"):
                return lambda regs: regs[0]
            return lambda regs: regs[0] - 0x10000 if regs[0] & 0x8000 else regs[0]
        swap = value.unpack
        return lambda regs: swap(words.pack(regs[0]))[0]  # type: ignore[no-any-return, unused-ignore]
    pack, unpack = words.pack, value.unpack
    if reverse:
        return lambda regs: unpack(pack(*regs[::-1]))[0]  # type: ignore[no-any-return, unused-ignore]
    return lambda regs: unpack(pack(*regs))[0]  # type: ignore[no-any-return, unused-ignore]


@cache
def encoder(dtype: DataType, order: Order = "ABCD", length: int | None = None) -> Encoder:
    """A function encoding a value into ``register_count`` registers.

    Raises CodecError for a value out of the type's range (never wraps silently).
    """
    n = register_count(dtype, length)
    reverse, byte_order = _word_layout(order)
    words = struct.Struct(f"{byte_order}{n}H")

    def finish(data: bytes) -> list[int]:
        regs = list(words.unpack(data))
        return regs[::-1] if reverse else regs

    if dtype == "string":
        def encode_string(value: Raw) -> list[int]:
            data = str(value).encode("utf-8")
            if len(data) > 2 * n:
                raise CodecError(f"string longer than {2 * n} bytes")
            return finish(data.ljust(2 * n, b"\0"))
        return encode_string
    value_struct = struct.Struct(">" + _FORMAT[dtype])
    integer = dtype in INTEGER_TYPES

    def encode(value: Raw) -> list[int]:
        if isinstance(value, str):
            raise CodecError(f"{dtype} needs a number, not text")
        if integer and isinstance(value, float):
            if not math.isfinite(value) or value != int(value):
                raise CodecError(f"{dtype} needs a whole number, got {value}")
            value = int(value)
        try:
            data = value_struct.pack(value)
        except (struct.error, OverflowError):
            raise CodecError(f"{value} does not fit in {dtype}") from None
        return finish(data)
    return encode


def decode(regs: Sequence[int], dtype: DataType, order: Order = "ABCD",
           length: int | None = None) -> Raw:
    """Decode one value; ``regs`` must hold exactly its registers, each 0..65535.

    The checked entry point; the hot path uses ``decoder()`` on replies whose
    length and range the wire layer already checked.
    """
    if len(regs) != register_count(dtype, length):
        raise CodecError(f"{dtype} needs {register_count(dtype, length)} registers, "
                         f"got {len(regs)}")
    for reg in regs:
        if not 0 <= reg <= 0xFFFF:
            raise CodecError(f"register value {reg} is outside 0..65535")
    return decoder(dtype, order, length)(regs)


def encode(value: Raw, dtype: DataType, order: Order = "ABCD",
           length: int | None = None) -> list[int]:
    return encoder(dtype, order, length)(value)
