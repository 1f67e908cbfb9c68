"""Read planning: which Modbus requests fetch a device's points (pure: no I/O, no clock).

On a serial line every request costs a fixed ~13 characters, two silent
intervals and the device's turnaround, while one more register costs two
characters; on TCP a round trip dwarfs any payload. So points are coalesced
into few block reads (research/modbus.md §4): per table, a greedy sweep joins
the next value while the hole before it is small, the block stays within what
the device reads at once, and the hole holds nothing the device refuses.

Devices disagree with their manuals, so ``DevicePlan`` learns: a merged read
refused with exception 02/03 (or answered short) is split and the split is
remembered, a single value the device refuses is disabled and reported as
failed every cycle, and a 03 lowers the device's read length.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import TYPE_CHECKING, Literal

from gateway.core.profile import Point, Profile
from gateway.core.profile_spec import (
    BIT_TABLES,
    READ_FUNCTION,
    TABLES,
    PointTable,
    RegisterRange,
    Table,
)

if TYPE_CHECKING:
    from gateway.core.site import Device

Transport = Literal["tcp", "rtu", "rtu-over-tcp"]
#: A learned boundary: no block holds both ``address - 1`` and ``address`` of ``table``.
Cut = tuple[Table, int]

ILLEGAL_FUNCTION = 0x01
ILLEGAL_ADDRESS = 0x02
ILLEGAL_VALUE = 0x03


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` registers (or bits) of ``table`` from ``start``; for a
    meter, ``count`` bytes of the reply to DI ``start`` (its points at ``value_at``)."""

    table: PointTable
    start: int
    count: int
    #: The points this read decodes, sorted by address.
    points: tuple[Point, ...]

    @property
    def function(self) -> int:
        return READ_FUNCTION[self.table]

    @property
    def end(self) -> int:
        """Last address read (inclusive)."""
        return self.start + self.count - 1


@dataclass(slots=True)
class _Span:
    """Addresses ``start..end`` read as one unit: one value, or values that overlap."""

    start: int
    end: int
    points: list[Point] = field(default_factory=list)


def _spans(points: Iterable[Point]) -> list[_Span]:
    """Sorted atomic spans; duplicate and overlapping points share a span."""
    spans: list[_Span] = []
    for p in sorted(points, key=lambda p: (p.address, p.end, p.name)):
        if spans and p.address <= spans[-1].end:
            spans[-1].end = max(spans[-1].end, p.end)
            spans[-1].points.append(p)
        else:
            spans.append(_Span(p.address, p.end, [p]))
    return spans


def _merged(ranges: Iterable[RegisterRange], table: Table) -> list[tuple[int, int]]:
    """The table's ranges as sorted disjoint intervals, touching ones joined."""
    out: list[tuple[int, int]] = []
    for start, end in sorted((r.start, r.end) for r in ranges if r.table == table):
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


class _Guard:
    """Answers 'may a block bridge the hole between two spans?' for one table."""

    def __init__(self, table: Table, no_bridge: Iterable[RegisterRange],
                 implemented: Iterable[RegisterRange] | None, cuts: Iterable[Cut]):
        self.forbidden = _merged(no_bridge, table)
        self.allowed = None if implemented is None else _merged(implemented, table)
        self.allowed_starts = [a for a, _ in self.allowed or ()]
        self.cuts = sorted(a for t, a in cuts if t == table)

    def may_join(self, end: int, start: int) -> bool:
        """A block ending at ``end`` may take a span starting at ``start`` (> end)."""
        i = bisect.bisect_right(self.cuts, end)
        if i < len(self.cuts) and self.cuts[i] <= start:
            return False
        lo, hi = end + 1, start - 1
        if lo > hi:
            return True
        if any(a <= hi and lo <= b for a, b in self.forbidden):
            return False
        if self.allowed is not None:
            j = bisect.bisect_right(self.allowed_starts, lo) - 1
            return j >= 0 and self.allowed[j][1] >= hi
        return True


def plan_reads(points: Iterable[Point], *, max_registers: int, max_bits: int, max_gap: int,
               no_bridge: Sequence[RegisterRange],
               implemented: Sequence[RegisterRange] | None = None,
               cuts: Collection[Cut] = (),
               meter_blocks: Mapping[int, list[int]] | None = None) -> list[ReadBlock]:
    """Coalesce points into block reads, in table order (coil, discrete, holding, input).

    A block grows by the next value while the hole before it is at most
    ``max_gap`` registers (``max_gap * 16`` bits, same bytes, for bit tables),
    the block stays within ``max_registers`` / ``max_bits``, the hole holds no
    ``no_bridge`` address, lies inside ``implemented`` (when given) and crosses
    no learned ``cut``. Values are never split; a value longer than the limit
    gets a block of its own (the device will refuse it; DevicePlan disables it).
    """
    by_table: dict[str, dict[int, Point]] = {}
    for p in points:
        by_table.setdefault(p.table, {})[id(p)] = p
    blocks: list[ReadBlock] = []
    for meter_table in ("dlt645", "cjt188"):
        blocks.extend(_meter_blocks(by_table.pop(meter_table, {}).values(),
                                    meter_blocks or {}))
    for table in TABLES:
        if table not in by_table:
            continue
        bits = table in BIT_TABLES
        limit = max_bits if bits else max_registers
        gap = min(max_gap * 16, max_bits) if bits else max_gap
        guard = _Guard(table, no_bridge, implemented, cuts)
        current: _Span | None = None
        for span in _spans(by_table[table].values()):
            if current is not None and span.start - current.end - 1 <= gap \
                    and span.end - current.start + 1 <= limit \
                    and guard.may_join(current.end, span.start):
                current.end = span.end
                current.points.extend(span.points)
                continue
            if current is not None:
                blocks.append(_block(table, current))
            current = span
        if current is not None:
            blocks.append(_block(table, current))
    return blocks


def _meter_blocks(points: Iterable[Point], meter_blocks: Mapping[int, list[int]]
                  ) -> list[ReadBlock]:
    """One read per data identifier, carrying every point its reply holds; where the
    meter answers a block DI holding two or more of them, one read of the block, its
    points moved to the block's DI at their place in its reply."""
    by_di: dict[int, list[Point]] = {}
    for p in points:
        by_di.setdefault(p.address, []).append(p)
    blocks = []
    for block_di, elements in meter_blocks.items():
        members = [(i, p) for i, di in enumerate(elements) for p in by_di.get(di, ())]
        if len({p.address for _, p in members}) < 2:
            continue
        size = members[0][1].count  # the profile checked that they share their format
        moved = tuple(sorted((replace(p, address=block_di, value_at=i * size)
                              for i, p in members), key=lambda p: (p.value_at, p.name)))
        blocks.append(ReadBlock(moved[0].table, block_di, size * len(elements), moved))
        for _, p in members:
            by_di.pop(p.address, None)
    for di, pts in sorted(by_di.items()):
        pts.sort(key=lambda p: (p.value_at, p.name))
        size = max(p.value_at + p.count for p in pts)
        blocks.append(ReadBlock(pts[0].table, di, size, tuple(pts)))
    return blocks


def _block(table: Table, span: _Span) -> ReadBlock:
    pts = tuple(sorted(span.points, key=lambda p: (p.address, p.name)))
    return ReadBlock(table, span.start, span.end - span.start + 1, pts)


class DevicePlan:
    """The reads of one device, adapted to what the device turns out to refuse.

    Learned state (cuts, lowered read length, disabled points) lives as long as
    this object: keep one per device for the life of the poller.
    """

    def __init__(self, profile: Profile, *, index: int | None = None,
                 points: Iterable[str] | None = None, transport: Transport = "rtu"):
        self.profile = profile
        self.index = index
        self.transport: Transport = transport
        available = profile.points_for(index)
        names = list(available) if points is None else list(dict.fromkeys(points))
        unknown = [n for n in names if n not in available]
        if unknown:
            raise ValueError(f"profile {profile.id} has no point {', '.join(unknown)}")
        facts = profile.link
        self._max_registers = facts.max_read_registers
        self._max_bits = facts.max_read_bits
        self._implemented = profile.implemented(index)
        self._no_bridge: list[RegisterRange] = list(profile.no_bridge(index))
        self._cuts: set[Cut] = set()
        #: block DIs the meter turned out not to answer: read their points one by one
        self._meter_blocks = dict(profile.meter_blocks)
        self._points: dict[str, Point] = {}
        self._disabled: dict[str, str] = {}
        for name in names:
            p = available[name]
            limit = self._limit(p.table)
            if p.count > limit:
                self._disabled[name] = (f"needs {p.count} registers in one read; "
                                        f"the device reads at most {limit}")
            else:
                self._points[name] = p
        self._blocks: tuple[ReadBlock, ...] = ()
        self._replan()

    @classmethod
    def for_device(cls, device: Device, transport: Transport) -> DevicePlan:
        """The plan of a site device (its index and point subset) on a link of ``transport``."""
        return cls(device.profile, index=device.config.index, points=device.config.points,
                   transport=transport)

    # -- what the poller reads --------------------------------------------------------

    @property
    def blocks(self) -> tuple[ReadBlock, ...]:
        return self._blocks

    @property
    def max_registers(self) -> int:
        """Longest register read (the profile's, or lower once the device refused one)."""
        return self._max_registers

    @property
    def max_bits(self) -> int:
        return self._max_bits

    @property
    def max_gap(self) -> int:
        """Largest hole bridged: the device's read length on TCP, where bytes are free."""
        if self.transport == "tcp":
            return self._max_registers
        return self.profile.link.max_gap_registers

    @property
    def disabled_points(self) -> Mapping[str, str]:
        """Points no longer read, each with why (a copy)."""
        return dict(self._disabled)

    def failed_points(self) -> dict[str, str]:
        """Point → reason for every point the engine must report as failed in every reading."""
        return dict(self._disabled)

    # -- metrics ------------------------------------------------------------------------

    @property
    def requests_per_cycle(self) -> int:
        return len(self._blocks)

    @property
    def registers_per_cycle(self) -> int:
        """Registers read per cycle; bit reads count as the 16-bit words they fill."""
        return sum(math.ceil(b.count / 16) if b.table in BIT_TABLES else b.count
                   for b in self._blocks)

    @property
    def naive_requests(self) -> int:
        """Requests one read per point would take (the baseline of the coalescing)."""
        return len(self._points)

    # -- learning -----------------------------------------------------------------------

    def on_exception(self, block: ReadBlock, code: int) -> None:
        """Adapt the plan to a Modbus exception answering ``block``.

        01: the device lacks this function: every point of the table is disabled
        (a profile error). 02/03: see ``_refused``. Other codes (04 device
        failure, 06 busy, 0B gateway target silent …) and timeouts are transient
        and leave the plan alone. A block that is no longer planned is ignored.
        """
        if block not in self._blocks:
            return
        if code == ILLEGAL_FUNCTION:
            for name, p in list(self._points.items()):
                if p.table == block.table:
                    self._disable(name, f"the device does not support function "
                                        f"{block.function:02d} (exception 01): check the "
                                        f"profile's table '{block.table}'")
        elif code in (ILLEGAL_ADDRESS, ILLEGAL_VALUE):
            self._refused(block, f"exception {code:02d}", lower_limit=code == ILLEGAL_VALUE)
        else:
            return
        self._replan()

    def on_short_reply(self, block: ReadBlock) -> None:
        """A reply with fewer registers than asked: the device does not serve the whole block."""
        if block not in self._blocks:
            return
        self._refused(block, "short reply", lower_limit=False)
        self._replan()

    def _refused(self, block: ReadBlock, why: str, *, lower_limit: bool) -> None:
        """Make sure the refused block is never sent again.

        One value: disable its points and never bridge its addresses. Several:
        on 03 halve the device's read length (the likely cause, and log2 steps
        to the real limit); otherwise cut at the largest hole, or between the
        middle points when there is none.
        """
        if block.table not in TABLES:  # a meter's DI: its points go together
            if self._meter_blocks.pop(block.start, None) is not None:
                return  # a block read refused: its points are read one by one
            for p in block.points:
                self._disable(p.name, f"the meter refuses DI {block.start:08X} ({why})")
            return
        spans = _spans(block.points)
        if len(spans) == 1:
            for p in spans[0].points:
                self._disable(p.name, f"the device refuses {block.table} {p.address}"
                                      f"..{p.end} ({why})")
            self._no_bridge.append(RegisterRange(table=block.table, start=spans[0].start,
                                                 end=spans[0].end, reason=why))
            return
        if lower_limit:
            lowered = max(max(s.end - s.start + 1 for s in spans), block.count // 2)
            if block.table in BIT_TABLES:
                self._max_bits = min(self._max_bits, lowered)
            else:
                self._max_registers = min(self._max_registers, lowered)
            return
        holes = [(b.start - a.end - 1, a.end + 1) for a, b in pairwise(spans)]
        size, after = max(holes, key=lambda h: h[0])  # the first of the largest
        cut = after if size > 0 else spans[len(spans) // 2].start
        self._cuts.add((block.table, cut))

    def _disable(self, name: str, reason: str) -> None:
        if self._points.pop(name, None) is not None:
            self._disabled[name] = reason

    def _limit(self, table: PointTable) -> int:
        return self._max_bits if table in BIT_TABLES else self._max_registers

    def _replan(self) -> None:
        self._blocks = tuple(plan_reads(
            self._points.values(), max_registers=self._max_registers, max_bits=self._max_bits,
            max_gap=self.max_gap, no_bridge=self._no_bridge, implemented=self._implemented,
            meter_blocks=self._meter_blocks,
            cuts=self._cuts))
