"""Interval accounting: energy (kWh) and water (m³) per meter per 15-minute interval, from
the meters' cumulative counters — never from power samples.

Per meter the accountant keeps the last good counter value and its read time
(the *anchor*). Each new reading gives a step from the anchor
(``gateway.acquisition.counters.counter_step``):

- up: the difference;
- down near the top of the register and up from the bottom: a **wrap**, the
  exact increase across the roll-over (span − previous + current);
- down by a hair (≤ ``jitter`` of the previous value): read noise of a float
  register — ignored, the anchor stays at the higher value, nothing counted;
- down otherwise: a **reset** (meter replaced or cleared) — the new value counts
  from 0 (a new meter's register holds what it measured since it was fitted),
  never a negative number; the intervals it lands in are marked ``reset``.

The step is spread over the time between the two readings, linearly, into the
intervals it covers, so a gap in the readings (a dead bus, a restart) spreads
its energy over the missing intervals instead of losing it or dumping it into
one; an interval that got energy from a stretch longer than ``max_gap_s`` is
``interpolated``. An interval is closed (emitted) once a reading at or after
its end arrived: nothing can add to it any more. The first interval after a
cold start is ``partial`` (energy before the first reading is unknown).

Intervals are aligned to the quarter hour of site-local time (every real UTC
offset is a multiple of 15 minutes, so that is also the UTC quarter hour).
Each electricity interval is priced at the tariff rate in force at its start
(a period boundary never falls inside an interval: the tariff loader checks),
``cost = kWh × price`` exactly in Decimal, and its demand is the interval's
mean power ``kWh × 4``; the accountant keeps each meter's peak of the month.

Pure: readings in, intervals out; ``snapshot``/``restore`` carry the state
across restarts (``gateway.energy.service`` persists it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from gateway.acquisition.counters import counter_span, counter_step
from gateway.acquisition.reading import Reading
from gateway.core.site import Site
from gateway.energy.tariff import Tariff

INTERVAL_S = 900
Quality = Literal["good", "interpolated", "partial", "reset"]
#: worst first: an interval takes the worst quality of what went into it
_QUALITY_RANK: dict[str, int] = {"good": 0, "interpolated": 1, "partial": 2, "reset": 3}
_QUALITY_OF: dict[int, Quality] = {0: "good", 1: "interpolated", 2: "partial", 3: "reset"}
ENERGY_POINT = "energy_import_kwh"
WATER_POINT = "volume_m3"
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """A counter to account: which point, its roll-over span, what a gap is."""

    device: str
    point: str
    #: "kwh" (electricity) or "m3" (water)
    unit: Literal["kwh", "m3"]
    span: float | None = None
    #: a stretch between two readings longer than this makes its intervals "interpolated"
    max_gap_s: float = 120.0
    #: a decrease up to this fraction of the previous value is read noise, not a reset
    jitter: float = 1e-6
    #: site-file tags (role: main / ac …), carried into reports
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Interval:
    """One closed interval of one meter."""

    device: str
    start: datetime
    end: datetime
    unit: Literal["kwh", "m3"]
    #: kWh or m³, rounded to 6 decimals
    amount: float
    quality: Quality
    period: str | None = None
    price: Decimal | None = None
    cost: Decimal | None = None
    demand_kw: float | None = None
    #: the meter's highest 15-minute demand in this interval's (site-local) month so far
    month_peak_kw: float | None = None
    tariff_version: str | None = None

    @property
    def kwh(self) -> float:
        return self.amount if self.unit == "kwh" else 0.0

    def payload(self) -> dict[str, Any]:
        """The ``energy/interval`` message body (docs/mqtt.md), without ``v``."""
        from gateway.uplink.messages import iso

        out: dict[str, Any] = {"start": iso(self.start), "end": iso(self.end),
                               "device": self.device}
        if self.unit == "kwh":
            out["kwh"] = self.amount
            if self.period is not None:
                out["period"] = self.period
            if self.price is not None and self.cost is not None:
                out["price"] = float(self.price)
                out["cost"] = float(round(self.cost, 6))
            out["demand_kw"] = self.demand_kw
            if self.month_peak_kw is not None:
                out["month_peak_kw"] = self.month_peak_kw
            if self.tariff_version is not None:
                out["tariff_version"] = self.tariff_version
        else:
            out["m3"] = self.amount
        out["quality"] = self.quality
        return out


class _Meter:
    __slots__ = ("emitted", "open", "peaks", "spec", "ts", "value")

    def __init__(self, spec: MeterSpec):
        self.spec = spec
        self.value: float | None = None
        self.ts: float | None = None
        #: interval index → [amount, worst quality rank]
        self.open: dict[int, list[float]] = {}
        #: the last interval index emitted (never emit one twice)
        self.emitted: int | None = None
        #: "YYYY-MM" (site-local) → highest demand kW
        self.peaks: dict[str, float] = {}


class IntervalAccountant:
    def __init__(self, meters: Iterable[MeterSpec], tz: ZoneInfo, tariff: Tariff | None = None,
                 interval_s: int = INTERVAL_S):
        if interval_s <= 0 or 86_400 % interval_s:
            raise ValueError("interval_s must divide a day")
        self.tz = tz
        self.tariff = tariff
        self.interval_s = interval_s
        self.meters = {m.device: _Meter(m) for m in meters}
        #: readings refused (older than the anchor, non-numeric); for metrics
        self.ignored = 0
        self.resets = 0
        self.wraps = 0

    # -- readings in, intervals out ---------------------------------------------------------

    def add(self, reading: Reading) -> list[Interval]:
        """Account one reading; returns the intervals it closed, oldest first."""
        m = self.meters.get(reading.device)
        if m is None:
            return []
        raw = reading.values.get(m.spec.point)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            return []
        value = float(raw)
        t = reading.ts.timestamp()
        if m.value is None or m.ts is None:
            m.value, m.ts = value, t
            k = self._index(t)
            if k * self.interval_s < t:  # started inside an interval: its head is unknown
                m.open.setdefault(k, [0.0, _QUALITY_RANK["partial"]])
            return []
        if t < m.ts:
            self.ignored += 1  # out of order (a replay): the anchor is newer
            return []
        prev = m.value
        quality = 0
        if value < prev and prev - value <= m.spec.jitter * abs(prev):
            # read noise: keep the higher anchor (and its time: the energy since then is
            # spread when the counter moves on, so nothing may close before that)
            return []
        step = counter_step(prev, value, m.spec.span)
        if step.flag == "reset":
            quality = _QUALITY_RANK["reset"]
            self.resets += 1
        elif step.flag == "wrap":
            self.wraps += 1
        if t - m.ts > m.spec.max_gap_s:
            quality = max(quality, _QUALITY_RANK["interpolated"])
        self._spread(m, m.ts, t, step.delta, quality)
        m.value, m.ts = value, t
        return self._close(m, t)

    def _index(self, t: float) -> int:
        return math.floor(t / self.interval_s)

    def _spread(self, m: _Meter, t0: float, t1: float, delta: float, quality: int) -> None:
        size = self.interval_s
        if t1 <= t0:
            self._credit(m, self._index(t0), delta, quality)
            return
        k = self._index(t0)
        last = self._index(t1)
        if t1 == last * size:  # a reading exactly on a boundary ends the interval before
            last -= 1
        span = t1 - t0
        while k <= last:
            a = max(t0, k * size)
            b = min(t1, (k + 1) * size)
            if b > a:
                self._credit(m, k, delta * (b - a) / span, quality)
            k += 1

    @staticmethod
    def _credit(m: _Meter, k: int, amount: float, quality: int) -> None:
        if m.emitted is not None and k <= m.emitted:
            return  # cannot happen with ordered readings; never re-open a closed interval
        slot = m.open.get(k)
        if slot is None:
            m.open[k] = [amount, quality]
        else:
            slot[0] += amount
            if quality > slot[1]:
                slot[1] = quality

    def _close(self, m: _Meter, t: float) -> list[Interval]:
        size = self.interval_s
        done = sorted(k for k in m.open if (k + 1) * size <= t)
        out = []
        for k in done:
            amount, q = m.open.pop(k)
            out.append(self._interval(m, k, amount, int(q)))
            m.emitted = k
        return out

    def _interval(self, m: _Meter, k: int, amount: float, q: int) -> Interval:
        size = self.interval_s
        start = datetime.fromtimestamp(k * size, UTC)
        end = start + timedelta(seconds=size)
        amount = round(amount, 6)
        if m.spec.unit == "m3":
            return Interval(m.spec.device, start, end, "m3", amount, _QUALITY_OF[q])
        demand = round(amount * 3600.0 / size, 6)
        local = start.astimezone(self.tz)
        month = f"{local.year:04d}-{local.month:02d}"
        peak = max(m.peaks.get(month, 0.0), demand)
        m.peaks[month] = peak
        period = price = cost = version = None
        if self.tariff is not None:
            rate = self.tariff.rate_at(local.replace(tzinfo=None))
            period, price, version = rate.period, rate.price, rate.version
            cost = Decimal(f"{amount:.6f}") * price
        return Interval(m.spec.device, start, end, "kwh", amount, _QUALITY_OF[q], period, price,
                        cost, demand, peak, version)

    def month_peak(self, device: str, month: str) -> float | None:
        """Highest closed 15-minute demand of ``device`` in ``month`` ("YYYY-MM", site-local)."""
        m = self.meters.get(device)
        return None if m is None else m.peaks.get(month)

    # -- persistence ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state: anchors, open intervals, last emitted, month peaks."""
        return {"v": STATE_VERSION, "interval_s": self.interval_s, "meters": {
            dev: {"point": m.spec.point, "value": m.value, "ts": m.ts, "emitted": m.emitted,
                  "open": {str(k): v for k, v in m.open.items()}, "peaks": dict(m.peaks)}
            for dev, m in self.meters.items() if m.ts is not None}}

    def restore(self, state: Mapping[str, Any]) -> list[str]:
        """Load a snapshot; returns the devices restored. A snapshot of another version,
        interval or point is skipped (those meters re-anchor on their next reading)."""
        if state.get("v") != STATE_VERSION or state.get("interval_s") != self.interval_s:
            return []
        restored = []
        for dev, s in (state.get("meters") or {}).items():
            m = self.meters.get(dev)
            if m is None or s.get("point") != m.spec.point or s.get("ts") is None:
                continue
            m.value = float(s["value"])
            m.ts = float(s["ts"])
            m.emitted = None if s.get("emitted") is None else int(s["emitted"])
            m.open = {int(k): [float(v[0]), float(v[1])] for k, v in s.get("open", {}).items()}
            m.peaks = {str(k): float(v) for k, v in s.get("peaks", {}).items()}
            restored.append(dev)
        return restored


def site_meters(site: Site) -> list[MeterSpec]:
    """Every electricity meter (``energy_import_kwh``) and water meter (``volume_m3``) of a site."""
    out = []
    for dev in site.devices.values():
        kind = dev.profile.kind
        if kind == "meter" and ENERGY_POINT in dev.profile.points:
            point, unit = ENERGY_POINT, "kwh"
        elif kind == "water" and WATER_POINT in dev.profile.points:
            point, unit = WATER_POINT, "m3"
        else:
            continue
        if dev.config.points is not None and point not in dev.config.points:
            continue  # the site polls other points only
        out.append(MeterSpec(dev.id, point, unit,  # type: ignore[arg-type]
                             counter_span(dev.profile.points[point]),
                             max(3 * dev.config.poll_interval_s, 60.0),
                             tags=dict(dev.config.tags)))
    return out


def main_meters(meters: Sequence[MeterSpec], unit: str = "kwh") -> list[str]:
    """The devices whose electricity (or water, ``unit="m3"``) is the site's: meters tagged
    ``role: main``, else every such meter (of ``site_meters``); sub-meters measure part of
    what a main meter does, and adding them would count it twice."""
    of_unit = [m for m in meters if m.unit == unit]
    return [m.device for m in of_unit if m.tags.get("role") == "main"] or \
        [m.device for m in of_unit]
