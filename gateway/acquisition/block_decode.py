"""A read block's numbers unpacked with one struct call (pure: no I/O).

Decoding one value at a time costs a slice of the registers, a pack and an
unpack per point (docs/performance.md: decode was the largest part of the
pipeline's CPU after the Modbus exchange). The points of a register block that
are plain big-endian numbers (order ABCD, not strings, not bits) are instead
unpacked together: the block's registers are packed into bytes once and one
precompiled struct, with pad bytes over the gaps, gives every raw value; each
then goes through ``Point.finish`` as ``Point.decode`` would (through
``Point.finisher``: for a plain float32, the one step ``finish`` comes down to). Other points (and
meter blocks, which are bytes) keep ``Point.decode``. Both ways give the same
values: tests/acquisition/test_block_decode.py compares them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.acquisition.planner import ReadBlock
from gateway.core.codec import Raw, register_count
from gateway.core.profile import Point, Value
from gateway.core.profile_spec import TABLES

#: struct codes of the numbers a block unpacks at once, big-endian (order ABCD)
_CODES = {"u16": "H", "i16": "h", "u32": "I", "i32": "i", "u64": "Q", "i64": "q", "f32": "f",
          "f64": "d"}


@dataclass(frozen=True, slots=True)
class BlockDecoder:
    """How one block's registers become raw values."""

    #: points unpacked together, in address order, and the call that does it
    together: tuple[Point, ...]
    unpack: Callable[[Sequence[int]], tuple[Raw, ...]] | None
    #: each of ``together``'s raw values → its value (``Point.finisher``)
    finishers: tuple[Callable[[Raw], Value], ...]
    #: points decoded one by one
    alone: tuple[Point, ...]


def _together(point: Point) -> bool:
    return (point.table in TABLES and point.dtype in _CODES and point.order == "ABCD"
            and point.bit is None)


def block_decoder(block: ReadBlock) -> BlockDecoder:
    """The decoder of ``block``'s registers (``block.count`` of them, from ``block.start``)."""
    together: list[Point] = []
    alone: list[Point] = []
    at = block.start
    fmt = ">"
    for point in block.points:  # sorted by address
        if _together(point) and point.address >= at:
            fmt += "x" * 2 * (point.address - at) + _CODES[point.dtype]
            at = point.address + register_count(point.dtype)  # type: ignore[arg-type]
            together.append(point)
        else:
            alone.append(point)
    if len(together) < 2:
        return BlockDecoder((), None, (), tuple(block.points))
    words = struct.Struct(f">{block.count}H")
    values = struct.Struct(fmt + "x" * 2 * (block.start + block.count - at))

    def unpack(regs: Sequence[int]) -> tuple[Raw, ...]:
        return values.unpack(words.pack(*regs))
    return BlockDecoder(tuple(together), unpack, tuple(p.finisher for p in together),
                        tuple(alone))
