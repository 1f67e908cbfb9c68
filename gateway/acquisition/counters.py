"""Cumulative counters (energy, volume): tell a wrap-around from a reset.

A counter that goes down either rolled over at the top of its register (a u32
at 0xFFFFFFFF × scale) or was reset — most often the meter was replaced. The
two must not be confused: a wrap is a small positive delta, a reset starts a
new series. Accounting (energy per interval) uses ``delta``; the historian and
dashboards see the flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.core import cjt188
from gateway.core.profile import Point
from gateway.core.semantics import STANDARD_POINTS

_TYPE_MAX = {"u16": 0xFFFF, "u32": 0xFFFF_FFFF, "u64": 0xFFFF_FFFF_FFFF_FFFF,
             "i16": 0x7FFF, "i32": 0x7FFF_FFFF, "i64": 0x7FFF_FFFF_FFFF_FFFF}


def counter_span(point: Point) -> float | None:
    """The value at which the counter rolls over, or None (floats do not wrap).

    A BCD counter (DL/T 645, CJ/T 188) rolls over after its last all-nines value:
    999999.99 kWh → 0 in XXXXXX.XX. A CJ/T 188 value followed by a unit byte rolls
    over in the meter's own unit; the span is that of a meter counting in the
    standard unit (m³, kWh), as nearly all do (``counter_spans`` has those of the
    other units)."""
    if point.dtype == "bcd":
        digits = point.count - point.unit_byte
        unit = [cjt188.UNIT_CODE[STANDARD_POINTS[point.name].unit]] if point.unit_byte else []
        nines = float(point.decode([0x99] * digits + unit))
        step = float(point.decode([1] + [0] * (digits - 1) + unit))
        return round(nines + step, 9)
    top = _TYPE_MAX.get(point.dtype)
    if top is None:
        return None
    return (top + 1) * point.scale


#: The units a CJ/T 188 counter is looked at for a roll-over in, by standard unit: heat
#: meters count in kWh, MWh or GJ. Not every unit of the table: each span more is one
#: more band (the top tenth of it) from which a replaced meter's reset would pass for
#: a wrap.
WRAP_UNITS = {"kWh": (cjt188.UNIT_CODE["kWh"], 0x08, 0x11)}  # kWh, MWh, GJ


def counter_spans(point: Point) -> tuple[float, ...]:
    """Every value at which the counter may roll over, in its standard unit.

    A CJ/T 188 value followed by a unit byte rolls over in the unit the meter counts
    in: 999999.99 GJ is 277777775 kWh, 999999.99 MWh a thousand times the kWh span.
    For an energy counter, the spans in kWh, MWh and GJ (``WRAP_UNITS``; no two
    within a factor of 1.1, so the top tenth of one never overlaps another); any
    other counter: its one span (``counter_span``), or none."""
    codes = WRAP_UNITS.get(STANDARD_POINTS[point.name].unit) if point.name in \
        STANDARD_POINTS else None
    if point.dtype == "bcd" and point.unit_byte and codes is not None:
        digits = point.count - 1
        return tuple(round(float(point.decode([0x99] * digits + [code])) +
                           float(point.decode([1] + [0] * (digits - 1) + [code])), 9)
                     for code in codes)
    span = counter_span(point)
    return () if span is None else (span,)


@dataclass(frozen=True, slots=True)
class CounterStep:
    delta: float
    flag: str | None  # None, "wrap" or "reset"


def counter_step(previous: float, current: float,
                 span: float | Sequence[float] | None) -> CounterStep:
    """The increase from ``previous`` to ``current`` and what happened in between.

    A decrease is a wrap when the counter has a finite span and was in the top
    tenth of it (not past it) while the new value sits in the bottom tenth; anything else is a
    reset, whose delta is unknown and counted as the new value itself (a new
    meter starts near zero) — never as a negative number. ``span`` may be several
    (``counter_spans``): a wrap at any of them counts.
    """
    if current >= previous:
        return CounterStep(current - previous, None)
    spans = () if span is None else (span,) if isinstance(span, float | int) else span
    for top in spans:
        if 0.9 * top < previous <= top and current < 0.1 * top:
            return CounterStep(top - previous + current, "wrap")
    return CounterStep(max(current, 0.0), "reset")


class CounterWatch:
    """Remembers each counter's last good value per device and flags steps."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], float] = {}

    def check(self, device: str, point: Point, value: float) -> str | None:
        key = (device, point.name)
        previous = self._last.get(key)
        self._last[key] = value
        if previous is None or value >= previous:  # the usual step, settled at once
            return None
        return counter_step(previous, value, counter_spans(point)).flag
