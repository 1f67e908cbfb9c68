"""Cumulative counters (energy, volume): tell a wrap-around from a reset.

A counter that goes down either rolled over at the top of its register (a u32
at 0xFFFFFFFF × scale) or was reset — most often the meter was replaced. The
two must not be confused: a wrap is a small positive delta, a reset starts a
new series. Accounting (energy per interval) uses ``delta``; the historian and
dashboards see the flag.
"""

from __future__ import annotations

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
    standard unit (m³, kWh), as nearly all do (one counting in GJ reads past it,
    and its decreases are resets: ``counter_step``)."""
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


@dataclass(frozen=True, slots=True)
class CounterStep:
    delta: float
    flag: str | None  # None, "wrap" or "reset"


def counter_step(previous: float, current: float, span: float | None) -> CounterStep:
    """The increase from ``previous`` to ``current`` and what happened in between.

    A decrease is a wrap when the counter has a finite span and was in the top
    tenth of it (not past it) while the new value sits in the bottom tenth; anything else is a
    reset, whose delta is unknown and counted as the new value itself (a new
    meter starts near zero) — never as a negative number.
    """
    if current >= previous:
        return CounterStep(current - previous, None)
    if span is not None and 0.9 * span < previous <= span and current < 0.1 * span:
        return CounterStep(span - previous + current, "wrap")
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
        return counter_step(previous, value, counter_span(point)).flag
