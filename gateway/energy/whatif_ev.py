"""The site's car park in the what-if: the simulator's cars, steered by the gateway's own
allocator on the budget the AC leaves, and their KPIs (docs/energy.md "EVs in the what-if").

No sockets, no OCPP: each step (the what-if's ``step_s``) the car park does what the
gateway's supervisor does in a cycle (gateway/ev/supervisor.py) with the state a perfect
meter would report —

1. cars arrive and leave: each working day (of the calendar that brings the simulated
   occupants in: in a comparison, the first rule set's for both) every connector gets the
   simulator's seeded car (simulators/ocpp/fleet.py ``day_of_cars``, seeded by the
   simulation seed and the date, so both rule sets meet the same cars);
2. the budget is the rule set's demand window (``DemandController.window_so_far``, the
   engine's own integration of the main meter, which reads the chargers too) shared as
   the gateway shares it (gateway/ev/budget.py); a rule set without a demand limit gives
   the chargers their fail-safe budget, as ``escogw run`` does;
3. the rule file's ``charging:`` section (gateway/ev/charging_rules.py ``plan``) and the
   allocator (gateway/ev/allocator.py ``allocate``) set each connector's limit; the ramp
   is the site file's per cycle, times the cycles in a step;
4. each car takes what its limit and its charging curve allow for the step
   (simulators/ocpp/ev.py); the sum is the building's ``other_load_kw``, on the main meter.

Limits take at once (no charger delay) and every charger obeys them (the site file's
``simulate`` faults are not simulated here).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from gateway.control.ruleset import RuleSet
from gateway.core.calendar import WORKING, SiteCalendar
from gateway.core.chargers import ChargerConfig, ChargingConfig
from gateway.energy.ev_sessions import split_by_period
from gateway.energy.tariff import Tariff
from gateway.ev.allocator import ConnectorDemand, allocate
from gateway.ev.budget import cycle_budget_kw
from gateway.ev.charging_rules import Plugged, plan
from gateway.i18n import N_, _
from simulators.ocpp.ev import Vehicle
from simulators.ocpp.fleet import day_of_cars

#: a session that got less than this share of what it asked for "left short"
SHORT_SHARE = 0.95
#: the simulator's car park: the first commuters arrive at 08:00
FIRST_ARRIVAL_H = 8.0
_WINDOW_S = 900.0


@dataclass
class EvKpis:
    """The car park's day: cars that left that day, charging energy and cost drawn that
    day, and charging's part in the day's highest site window (``MeterKpis``' peak)."""

    #: cars that left (sessions ended) this day
    sessions: int = 0
    #: what they asked for on arrival (arrival to target state of charge), kWh
    requested_kwh: float = 0.0
    #: what they got, kWh
    delivered_kwh: float = 0.0
    #: of them, cars that left with less than 95 % of what they asked for
    short_sessions: int = 0
    #: charging energy drawn in the day's 15-minute windows, kWh, and its cost at the
    #: site's tariff (each window at its period's price, as the interval accounting does)
    energy_kwh: float = 0.0
    cost: Decimal = Decimal(0)
    kwh_by_period: dict[str, float] = field(default_factory=dict)
    cost_by_period: dict[str, Decimal] = field(default_factory=dict)
    #: the chargers' mean kW in the site's highest 15-minute window of the day
    kw_at_site_peak: float = 0.0
    #: … as a share of that window's site demand, %
    site_peak_share_pct: float = 0.0
    #: the chargers' own highest 15-minute demand, kW
    peak_kw: float = 0.0

    @property
    def delivered_pct(self) -> float:
        return 100.0 * self.delivered_kwh / self.requested_kwh if self.requested_kwh else 100.0


class DayWithCars(Protocol):
    """What the run's figures read of a day's ``kpis.Kpis``."""

    @property
    def peak_kw(self) -> float: ...
    @property
    def ev(self) -> EvKpis | None: ...


class SiteWindow(Protocol):
    """The rule set's demand window (gateway/control/demand.py ``DemandController``)."""

    def window_so_far(self, now: float) -> tuple[float, float, float] | None: ...


@dataclass
class _Bay:
    """One connector and the car at it."""

    charger: str
    number: int
    cfg: ChargerConfig
    visits: list[Vehicle] = field(default_factory=list)
    car: Vehicle | None = None
    limit_kw: float | None = None
    draw_kw: float = 0.0

    @property
    def key(self) -> tuple[str, int]:
        return (self.charger, self.number)


@dataclass(frozen=True)
class _Left:
    """A car that left: when, what it asked for, what it got."""

    at: float
    requested_kwh: float
    delivered_kwh: float


class VirtualCarPark:
    def __init__(self, cfg: ChargingConfig, rules: RuleSet, window: SiteWindow | None,
                 tz: ZoneInfo, *, seed: int, step_s: float,
                 calendar: SiteCalendar | None = None):
        """``calendar``: whose working days bring the cars (default: the rule set's)."""
        self.cfg = cfg
        self.rules = rules
        self.calendar = calendar if calendar is not None else rules.calendar
        self.window = window
        self.tz = tz
        self.seed = seed
        self.step_s = step_s
        demand = rules.demand
        #: as ``escogw run``: the site file's limit, else the rule file's
        self.limit_kw = cfg.limit_kw or (demand.limit_kw if demand is not None else None)
        self.window_s = demand.window_s if demand is not None else _WINDOW_S
        self.ramp_kw = cfg.ramp_kw_per_cycle * max(1.0, step_s / cfg.cycle_s)
        self.bays = [_Bay(cid, n, c) for cid, c in cfg.chargers.items()
                     for n in range(1, c.connectors + 1)]
        #: window start (epoch s) → charging kWh in it
        self.energy: dict[float, float] = {}
        self.left: list[_Left] = []
        #: the car park's draw over the last step: what the main meter reads of it now
        self.draw_kw = 0.0
        self._next_midnight = -math.inf

    def _new_day(self, ts: float) -> None:
        local = datetime.fromtimestamp(ts, self.tz)
        day = local.date()
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=self.tz).timestamp()
        self._next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(),
                                               tzinfo=self.tz).timestamp()
        if self.calendar.day(day).type not in WORKING:
            return
        rng = random.Random(f"ev:{self.seed}:{day.isoformat()}")
        for cid, c in self.cfg.chargers.items():
            for n, cars in day_of_cars(rng, cid, c, 0.0, FIRST_ARRIVAL_H).items():
                bay = next(b for b in self.bays if b.key == (cid, n))
                for car in cars:
                    car.arrive_s += midnight
                    car.leave_s += midnight
                    bay.visits.append(car)

    def step(self, ts: float) -> float:
        """The chargers' draw (kW) from ``ts`` for one step; counts its energy."""
        if ts >= self._next_midnight:
            self._new_day(ts)
        present = False
        for bay in self.bays:
            car = bay.car
            if car is not None and ts >= car.leave_s:
                self.left.append(_Left(ts, car.requested_kwh, car.delivered_kwh))
                bay.car, car = None, None
            if car is None and bay.visits and bay.visits[0].arrive_s <= ts:
                bay.car, bay.limit_kw = bay.visits.pop(0), None
            bay.draw_kw = 0.0 if bay.car is None else bay.draw_kw
            present = present or bay.car is not None
        if not present:
            self.draw_kw = 0.0
            return 0.0
        self._allocate(ts)
        total_kwh = 0.0
        for bay in self.bays:
            if bay.car is None:
                continue
            kw = bay.car.draw_kw(bay.limit_kw or 0.0)
            kwh = bay.car.charge(kw, self.step_s)
            bay.draw_kw = kwh * 3600.0 / self.step_s
            total_kwh += kwh
        if total_kwh > 0:
            start = math.floor(ts / _WINDOW_S) * _WINDOW_S
            self.energy[start] = self.energy.get(start, 0.0) + total_kwh
        self.draw_kw = total_kwh * 3600.0 / self.step_s
        return self.draw_kw

    def _allocate(self, ts: float) -> None:
        demands = [ConnectorDemand(
            charger=b.charger, connector=b.number, circuit=b.cfg.circuit,
            priority=b.cfg.priority, min_kw=b.cfg.min_kw, max_kw=b.cfg.max_kw,
            plugged=b.car is not None and not b.car.full, controllable=True,
            measured_kw=b.draw_kw, last_kw=b.limit_kw) for b in self.bays]
        charging = self.rules.charging
        local = datetime.fromtimestamp(ts, self.tz)
        if charging is not None:
            cars = {b.key: Plugged(b.car.id_tag, b.car.delivered_kwh)
                    for b in self.bays if b.car is not None}
            demands = plan(demands, charging, local, self.rules.tariff, cars)
        window = self.window.window_so_far(ts) \
            if self.window is not None and self.limit_kw is not None else None
        budget = cycle_budget_kw(
            window, limit_kw=self.limit_kw or 0.0, margin_kw=self.cfg.margin_kw,
            window_s=self.window_s, ev_kw=self.draw_kw,
            failsafe_kw=self.cfg.failsafe_kw,
            floor_kw=charging.floor_kw(local) if charging is not None else 0.0)
        alloc = allocate(demands, budget, self.cfg.circuits, self.ramp_kw)
        for b in self.bays:
            b.limit_kw = alloc.limits.get(b.key, 0.0)

    def finish_day(self, begin: datetime, end: datetime, site_demand: dict[float, float],
                   tariff: Tariff | None) -> EvKpis:
        """The day ``begin``..``end``: its cars that left, its windows' charging energy
        (taken out of the car park's books) and charging's part in the site's peak window
        (``site_demand``: window start → site kW, the day's ``MeterKpis.site_demand``)."""
        a, b = begin.timestamp(), end.timestamp()
        kp = EvKpis()
        for s in self.left:
            if a <= s.at < b:
                kp.sessions += 1
                kp.requested_kwh += s.requested_kwh
                kp.delivered_kwh += s.delivered_kwh
                kp.short_sessions += s.delivered_kwh < SHORT_SHARE * s.requested_kwh
        self.left = [s for s in self.left if s.at >= b]
        windows = {w: kwh for w, kwh in self.energy.items() if a <= w < b}
        self.energy = {w: kwh for w, kwh in self.energy.items() if w >= b}
        kp.energy_kwh = sum(windows.values())
        kp.peak_kw = max(windows.values(), default=0.0) * 3600.0 / _WINDOW_S
        if tariff is not None and windows:
            samples: list[tuple[float, float]] = []
            wh = 0.0
            for w in sorted(windows):
                samples.append((w, wh))
                wh += windows[w] * 1000.0
                samples.append((w + _WINDOW_S, wh))
            split = split_by_period(samples, tariff, self.tz)
            kp.kwh_by_period, kp.cost_by_period = split.kwh, split.cost
            kp.cost = split.total_cost
        if site_demand:
            at, site_kw = max(site_demand.items(), key=lambda kv: kv[1])
            kp.kw_at_site_peak = windows.get(at, 0.0) * 3600.0 / _WINDOW_S
            kp.site_peak_share_pct = 100.0 * kp.kw_at_site_peak / site_kw if site_kw else 0.0
        return kp


# -- a run's figures and their rows in the what-if's tables --------------------------------


def ev_totals(days: Sequence[DayWithCars]) -> dict[str, float]:
    """A run's car-park figures over its days (one day: that day's); the share of the
    peak is the chargers' in the run's highest site window."""
    evs = [(k, k.ev) for k in days if k.ev is not None]
    if not evs:
        return {}
    peak_day, peak_ev = max(evs, key=lambda kv: kv[0].peak_kw)
    requested = sum(e.requested_kwh for _k, e in evs)
    delivered = sum(e.delivered_kwh for _k, e in evs)
    return {
        "sessions": float(sum(e.sessions for _k, e in evs)),
        "requested_kwh": round(requested, 3),
        "delivered_kwh": round(delivered, 3),
        "delivered_pct": round(100.0 * delivered / requested if requested else 100.0, 2),
        "short_sessions": float(sum(e.short_sessions for _k, e in evs)),
        "energy_kwh": round(sum(e.energy_kwh for _k, e in evs), 3),
        "cost": round(float(sum((e.cost for _k, e in evs), Decimal(0))), 2),
        "site_peak_kw": round(peak_day.peak_kw, 3),
        "kw_at_site_peak": round(peak_ev.kw_at_site_peak, 3),
        "site_peak_share_pct": round(peak_ev.site_peak_share_pct, 2),
        "peak_kw": round(max(e.peak_kw for _k, e in evs), 3),
    }


#: the car park's rows: figure of ``ev_totals`` → (name, format, change in %)
EV_ROWS: dict[str, tuple[str, str, bool]] = {
    "sessions": (N_("EV sessions (cars that left)"), ".0f", False),
    "requested_kwh": (N_("EV energy requested (kWh)"), ".1f", False),
    "delivered_kwh": (N_("EV energy delivered (kWh)"), ".1f", True),
    "delivered_pct": (N_("EV energy delivered (% of requested)"), ".1f", False),
    "short_sessions": (N_("EV sessions that left short (< 95 %)"), ".0f", False),
    "energy_kwh": (N_("charging energy (kWh)"), ".1f", True),
    "cost": (N_("charging cost (CNY)"), ".2f", True),
    "kw_at_site_peak": (N_("charging in the site's peak window (kW)"), ".2f", False),
    "site_peak_share_pct": (N_("charging's share of the site's peak (%)"), ".1f", False),
    "peak_kw": (N_("peak 15-min demand, charging (kW)"), ".2f", True),
}


def ev_rows(a: Sequence[DayWithCars], b: Sequence[DayWithCars] | None,
            change: Callable[[float, float], float]) -> list[tuple[str, str, str, str]]:
    """(name, A, B, change) rows of the car park's figures; none without a car park."""
    ta = ev_totals(a)
    if not ta:
        return []
    tb = ev_totals(b) if b is not None else None
    rows = []
    for key, (name, fmt, pct) in EV_ROWS.items():
        va = ta[key]
        if tb is None:
            rows.append((_(name), format(va, fmt), "", ""))
            continue
        vb = tb[key]
        ch = (f"{change(va, vb):+.1f} %" if vb else "") if pct else f"{va - vb:+{fmt}}"
        rows.append((_(name), format(va, fmt), format(vb, fmt), ch))
    return rows

