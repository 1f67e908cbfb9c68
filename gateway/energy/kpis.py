"""The what-if's KPIs (BOPTEST-style), each defined once: by the collector that counts it.

``DayKpis`` watches one run of a virtual site step by step and fills ``Kpis``. The
collectors follow the site from the first step (a unit switched on in the warm-up is not
a new switch at midnight; a write alarm raised in the warm-up is not unmet again) but
count only from ``start()`` on: site-local midnight of the evaluated day. A run over
many days (a season) calls ``next_day`` at each midnight: the day's ``Kpis`` are
finished and a fresh one counts on, while the collectors keep following the site.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control.ruleset import RuleSet
from gateway.core.policy import SetpointPolicy
from gateway.core.semantics import MODE_CODES
from gateway.core.site import Site
from gateway.energy.accounting import Interval, IntervalAccountant, main_meters, site_meters
from gateway.energy.comfort import Band, DiscomfortTally, comfort_band
from gateway.energy.tariff import Tariff
from simulators.physics import AcUnit, Building, SimRoom

if TYPE_CHECKING:
    from gateway.energy.whatif_ev import EvKpis


@dataclass
class Kpis:
    """One rule set's day; which collector defines each figure is noted beside it."""

    label: str
    day: date
    #: site (main meters): MeterKpis
    energy_kwh: float = 0.0
    cost: Decimal = Decimal(0)
    peak_kw: float = 0.0
    cost_by_period: dict[str, Decimal] = field(default_factory=dict)
    kwh_by_period: dict[str, float] = field(default_factory=dict)
    #: air conditioning only: MeterKpis (UnitCounters without an AC meter)
    ac_energy_kwh: float = 0.0
    ac_cost: Decimal = Decimal(0)
    ac_peak_kw: float = 0.0
    #: 15-minute windows of the demand meter above the limit plus its deadband
    #: (``demand_threshold_kw``; None: no limit to hold): MeterKpis
    demand_windows_over_limit: int = 0
    demand_threshold_kw: float | None = None
    #: of those, windows in which no ``demand:`` alarm of the engine was active at any
    #: moment before the window closed: DemandAlarms
    demand_windows_over_limit_unannounced: int = 0
    #: ``demand:`` alarms the engine raised: DemandAlarms
    demand_alarms: int = 0
    floor_area_m2: float = 0.0
    #: Discomfort
    zones: int = 0
    discomfort_kh: float = 0.0
    discomfort_by_zone: dict[str, float] = field(default_factory=dict)
    #: local hour → K·h summed over the zones (where in the day the discomfort is)
    discomfort_by_hour: dict[int, float] = field(default_factory=dict)
    occupied_zone_hours: float = 0.0
    #: UnitCounters
    units: int = 0
    compressor_starts: int = 0
    #: the units' compressors' running time summed, h
    compressor_hours: float = 0.0
    #: ShortCycles
    short_cycles: int = 0
    #: Violations
    clamp_hits: int = 0
    violations: int = 0
    #: Writes
    commands: int = 0
    unmet_commands: int = 0
    #: times occupants switched their room's units back on (too warm or cold): UnitCounters
    occupant_switch_ons: int = 0
    failed_writes: int = 0
    #: the engine's tick alarms raised while counting, by key (DayKpis.actuated)
    alarms: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    steps: int = 0
    #: the car park's day, when the site file declares one: whatif_ev.VirtualCarPark
    ev: EvKpis | None = None

    @property
    def discomfort_kh_per_zone(self) -> float:
        return self.discomfort_kh / self.zones if self.zones else 0.0

    @property
    def energy_kwh_per_m2(self) -> float:
        return self.energy_kwh / self.floor_area_m2 if self.floor_area_m2 else 0.0

    @property
    def starts_per_unit(self) -> float:
        return self.compressor_starts / self.units if self.units else 0.0


class AlarmLike(Protocol):
    """What ``Writes`` reads of the engine's alarms."""

    @property
    def key(self) -> str: ...
    @property
    def active(self) -> bool: ...


class DemandAlarms:
    """The engine's ``demand:`` alarms (a limit it cannot hold, a meter it cannot read):
    how many were raised, and when any was active — so that a window over the limit can be
    told apart from one an alarm announced before it closed."""

    PREFIX = "demand:"

    def __init__(self, kp: Kpis):
        self.kp = kp
        self._active: set[str] = set()
        #: (from, to) epoch s when some demand alarm was active; ``to`` inf while it is
        self._spans: list[tuple[float, float]] = []

    def observe(self, ts: float, alarms: Iterable[AlarmLike], counting: bool) -> None:
        was = bool(self._active)
        for alarm in alarms:
            if not alarm.key.startswith(self.PREFIX):
                continue
            if alarm.active:
                if alarm.key not in self._active and counting:
                    self.kp.demand_alarms += 1
                self._active.add(alarm.key)
            else:
                self._active.discard(alarm.key)
        if self._active and not was:
            self._spans.append((ts, math.inf))
        elif was and not self._active:
            self._spans[-1] = (self._spans[-1][0], ts)
        if len(self._spans) > 200:  # only the recent past is ever asked about
            del self._spans[:100]

    def announced(self, start: float, end: float) -> bool:
        """Was some demand alarm active at a moment in ``start``..``end``?"""
        return any(a < end and b > start for a, b in reversed(self._spans))


class MeterKpis:
    """Energy, cost and peak 15-minute demand: the meters' counter readings go through the
    gateway's own ``IntervalAccountant``; the intervals that start within the day count.

    - site: the main meters (``main_meters``: ``role: main``, else every electricity
      meter) — kWh, Σ kWh × price (by tariff period), and the highest 15-minute window of
      the summed interval demand;
    - air conditioning: the same over the ``role: ac`` meters; a site without one gets the
      units' own energy (``UnitCounters``) and no AC cost or peak;
    - demand windows over the limit: the windows where ``limit``'s meter (a rule set's
      demand meter) shows more than its threshold (the limit plus the deadband).
    """

    def __init__(self, kp: Kpis, site: Site, tariff: Tariff | None, begin: datetime,
                 end: datetime, limit: DemandThreshold | None = None,
                 alarms: DemandAlarms | None = None):
        self.meters = site_meters(site)
        self.accountant = IntervalAccountant(self.meters, site.tz, tariff)
        self.main = main_meters(self.meters)
        self.ac = [m.device for m in self.meters if m.unit == "kwh" and m.tags.get("role") == "ac"]
        self.limit = limit
        self.alarms = alarms
        self.bind(kp, begin, end)

    def bind(self, kp: Kpis, begin: datetime, end: datetime) -> None:
        """Count the intervals that start in ``begin``..``end`` into ``kp``."""
        self.kp = kp
        kp.demand_threshold_kw = self.limit.threshold_kw if self.limit else None
        self.begin, self.end = begin.timestamp(), end.timestamp()
        #: window start (epoch s) → demand summed over the meters, kW
        self.site_demand: dict[float, float] = {}
        self.ac_demand: dict[float, float] = {}

    def read(self, latest: Mapping[str, Reading]) -> None:
        for m in self.meters:
            self._closed(self.accountant.add(latest[m.device]))

    def _closed(self, intervals: Iterable[Interval]) -> None:
        kp = self.kp
        for iv in intervals:
            k = iv.start.timestamp()
            if not self.begin <= k < self.end:
                continue
            limit = self.limit
            if limit is not None and iv.device == limit.meter and \
                    (iv.demand_kw or 0.0) > limit.threshold_kw:
                kp.demand_windows_over_limit += 1
                if self.alarms is None or not self.alarms.announced(k, iv.end.timestamp()):
                    kp.demand_windows_over_limit_unannounced += 1
            if iv.device in self.main:
                kp.energy_kwh += iv.amount
                if iv.cost is not None:
                    kp.cost += iv.cost
                    p = iv.period or "flat"
                    kp.cost_by_period[p] = kp.cost_by_period.get(p, Decimal(0)) + iv.cost
                    kp.kwh_by_period[p] = kp.kwh_by_period.get(p, 0.0) + iv.amount
                self.site_demand[k] = self.site_demand.get(k, 0.0) + (iv.demand_kw or 0.0)
            elif iv.device in self.ac:
                kp.ac_energy_kwh += iv.amount
                if iv.cost is not None:
                    kp.ac_cost += iv.cost
                self.ac_demand[k] = self.ac_demand.get(k, 0.0) + (iv.demand_kw or 0.0)

    def finish(self) -> None:
        self.kp.peak_kw = max(self.site_demand.values(), default=0.0)
        self.kp.ac_peak_kw = max(self.ac_demand.values(), default=0.0)


@dataclass(frozen=True)
class DemandThreshold:
    """A demand limit to hold: ``meter``'s 15-minute demand at most ``threshold_kw``."""

    meter: str
    threshold_kw: float

    @classmethod
    def of(cls, rules: RuleSet) -> DemandThreshold | None:
        d = rules.demand
        return cls(d.meter, d.limit_kw + d.deadband_kw) if d is not None else None


class Discomfort:
    """Thermal discomfort ``tdis`` (BOPTEST), K·h, as ``comfort.DiscomfortTally`` defines it
    (the report's definition too): per zone, the room air temperature's distance outside the
    comfort band (26–28 °C in the rule set's cooling months, 18–22 °C otherwise: comfort.py)
    over the zone's occupied time. A zone is a room with occupants, unless the rule set
    exempts it (a ward, a theatre: their temperatures are clinical requirements, not the
    band's; the report leaves exempt zones out the same way); it is occupied while the
    simulation has people in it. The headline figure is the sum over the zones / zones
    (``Kpis.discomfort_kh_per_zone``)."""

    def __init__(self, kp: Kpis, rooms: Mapping[str, SimRoom], band: Band,
                 exempt: Collection[str] = ()):
        self.zones = {rid: r for rid, r in rooms.items()
                      if r.occupancy.occupants > 0 and rid not in exempt}
        self.bind(kp, band)

    def bind(self, kp: Kpis, band: Band) -> None:
        self.kp = kp
        self.band = band
        self.tally = DiscomfortTally()
        for rid in self.zones:
            self.tally.zone(rid)
        kp.zones = len(self.zones)

    def stepped(self, hour: int, dt_s: float) -> None:
        """The building has just advanced ``dt_s`` within site-local ``hour``."""
        h = dt_s / 3600.0
        for rid, room in self.zones.items():
            self.tally.add(rid, room.t_air_c, self.band, h, room.occupancy.people_present > 0,
                           hour=hour)

    def finish(self) -> None:
        kp, tally = self.kp, self.tally
        kp.discomfort_by_zone = dict(tally.kh)
        kp.discomfort_by_hour = dict(sorted(tally.by_hour.items()))
        kp.discomfort_kh = tally.total_kh
        kp.occupied_zone_hours = tally.hours


def exempt_rooms(building: Building, rules: RuleSet) -> set[str]:
    """Rooms of a zone the rule set exempts: the room's own id, or one of its units'."""
    units = {id(u) for uid, u in building.units.items()
             if uid in rules.units and rules.units[uid].exempt is not None}
    return {rid for rid, room in building.rooms.items()
            if rid in rules.policy.exemptions or any(id(u) in units for u in room.units)}


class ShortCycles:
    """Short cycles: a unit switched on for less than ``min_on_s`` or off for less than
    ``min_off_s`` (300 s each by default — the same thresholds for every rule set); each
    such switch counts once, whoever switched (the engine or the occupants)."""

    def __init__(self, kp: Kpis, units: Mapping[str, AcUnit], min_on_s: float,
                 min_off_s: float):
        self.kp = kp
        self.units = units
        self.min_on_s, self.min_off_s = min_on_s, min_off_s
        #: unit → (power, since when)
        self._held = {uid: (u.power, float("-inf")) for uid, u in units.items()}

    def observe(self, ts: float, counting: bool) -> None:
        held = self._held
        for uid, u in self.units.items():
            power, since = held[uid]
            if u.power != power:
                if counting and ts - since < (self.min_on_s if power else self.min_off_s):
                    self.kp.short_cycles += 1
                held[uid] = (u.power, ts)


class Violations:
    """Regulatory violations (国办发〔2007〕42号: cooling not below 26 °C, heating not above
    20 °C; ``SetpointPolicy`` with the rule set's exemptions), one per episode:

    - a unit running outside the national limits (possible with ``limits="rules"``);
    - a clamp hit: the engine's regulatory clamp deciding a point of a unit (the rule set
      asked for more than the limits allow; counted by the what-if's engine, whether or
      not a write followed).
    """

    def __init__(self, kp: Kpis, units: Mapping[str, AcUnit], rules: RuleSet):
        self.kp = kp
        self.units = units
        self.national = SetpointPolicy(exemptions=dict(rules.policy.exemptions))
        self.zone_of = {uid: u.zone for uid, u in rules.units.items()}
        self._breaching: set[str] = set()

    def observe(self, counting: bool) -> None:
        for uid, u in self.units.items():
            breach = u.power and self.national.violation(
                self.zone_of.get(uid), MODE_CODES[str(u.mode)], u.setpoint_c) is not None
            if breach:
                if uid not in self._breaching and counting:
                    self.kp.violations += 1
                self._breaching.add(uid)
            else:
                self._breaching.discard(uid)

    def finish(self, clamp_episodes: int) -> None:
        self.kp.clamp_hits = clamp_episodes
        self.kp.violations += clamp_episodes


class Writes:
    """Commands (writes sent), failed writes (the actuator's failed outcomes) and unmet
    commands: writes that did not take after the engine's retries — the first
    ``write:<device>:<point>`` alarm of each point."""

    def __init__(self, kp: Kpis):
        self.kp = kp
        self._alarmed: set[str] = set()

    def observe(self, outcomes: Iterable[WriteOutcome], alarms: Iterable[AlarmLike],
                counting: bool) -> None:
        kp = self.kp
        for outcome in outcomes:
            if counting:
                kp.commands += 1
                if not outcome.ok:
                    kp.failed_writes += 1
        for alarm in alarms:
            if alarm.active and alarm.key.startswith("write:") and alarm.key not in self._alarmed:
                self._alarmed.add(alarm.key)
                if counting:
                    kp.unmet_commands += 1


class UnitCounters:
    """Compressor starts and running hours, the occupants' switch-ons (and, on a site
    without an AC meter, the AC energy: the units' own) over the day: the physics'
    counters at the end less those at ``start``."""

    def __init__(self, kp: Kpis, building: Building, ac_metered: bool):
        self.building = building
        self.ac_metered = ac_metered
        self.bind(kp)

    def bind(self, kp: Kpis) -> None:
        self.kp = kp
        kp.units = len(self.building.units)
        self._starts: dict[str, int] = {}
        self._runtime_s = 0.0
        self._switch_ons = 0
        self._energy_kwh = 0.0

    def start(self) -> None:
        b = self.building
        self._starts = {uid: u.compressor_starts for uid, u in b.units.items()}
        self._runtime_s = sum(u.compressor_runtime_s for u in b.units.values())
        self._energy_kwh = sum(u.energy_kwh for u in b.units.values())
        self._switch_ons = b.occupant_switch_ons

    def finish(self) -> None:
        b, kp = self.building, self.kp
        if not self.ac_metered:
            kp.ac_energy_kwh = sum(u.energy_kwh for u in b.units.values()) - self._energy_kwh
        kp.compressor_starts = sum(u.compressor_starts - self._starts.get(uid, 0)
                                   for uid, u in b.units.items())
        kp.compressor_hours = (sum(u.compressor_runtime_s for u in b.units.values())
                               - self._runtime_s) / 3600.0
        kp.occupant_switch_ons = b.occupant_switch_ons - self._switch_ons


class DayKpis:
    """Every collector of one run, fed in the order of a step: the readings, the actuator's
    outcomes (and the units as the writes left them), the building's advance."""

    def __init__(self, label: str, day: date, site: Site, rules: RuleSet, building: Building,
                 tariff: Tariff | None, begin: datetime, end: datetime, *,
                 min_on_s: float = 300.0, min_off_s: float = 300.0,
                 demand_limit: DemandThreshold | None = None):
        """``demand_limit``: the limit whose windows ``demand_windows_over_limit`` counts
        (default: the rule set's own, if it has one)."""
        self.label = label
        self.floor_area_m2 = site.spec.site.floor_area_m2
        self.cooling_months = rules.policy.cooling_months
        self.kp = kp = Kpis(label, day, floor_area_m2=self.floor_area_m2)
        self.band = comfort_band(day.month in self.cooling_months)
        self.counting = False
        self.demand_alarms = DemandAlarms(kp)
        self.meters = MeterKpis(kp, site, tariff, begin, end,
                                demand_limit or DemandThreshold.of(rules), self.demand_alarms)
        self.discomfort = Discomfort(kp, building.rooms, self.band,
                                     exempt_rooms(building, rules))
        self.short_cycles = ShortCycles(kp, building.units, min_on_s, min_off_s)
        self.violations = Violations(kp, building.units, rules)
        self.writes = Writes(kp)
        self.counters = UnitCounters(kp, building, bool(self.meters.ac))

    def start(self) -> None:
        """The evaluated day begins: count from here."""
        self.counting = True
        self.counters.start()

    def next_day(self, day: date, begin: datetime, end: datetime) -> None:
        """After ``finish``: count ``day`` (``begin``..``end``) into a fresh ``Kpis``, the
        collectors still following the site."""
        self.kp = kp = Kpis(self.label, day, floor_area_m2=self.floor_area_m2)
        self.band = comfort_band(day.month in self.cooling_months)
        self.meters.bind(kp, begin, end)
        self.discomfort.bind(kp, self.band)
        self.short_cycles.kp = self.violations.kp = self.writes.kp = kp
        self.demand_alarms.kp = kp
        self.counters.bind(kp)
        self.start()

    def read(self, latest: Mapping[str, Reading]) -> None:
        self.meters.read(latest)

    def actuated(self, ts: float, outcomes: Iterable[WriteOutcome],
                 alarms: Iterable[AlarmLike], tick_alarms: Iterable[AlarmLike] = ()) -> None:
        """The actuator's outcomes, the alarms the engine raised on hearing them
        (``alarms``) and those of its tick (``tick_alarms``)."""
        tick = list(tick_alarms)
        self.writes.observe(outcomes, alarms, self.counting)
        self.demand_alarms.observe(ts, tick, self.counting)
        if self.counting:  # the engine's own: demand:infeasible, start:<rule>:late, …
            raised = self.kp.alarms
            for alarm in tick:
                if alarm.active:
                    raised[alarm.key] = raised.get(alarm.key, 0) + 1
        self.short_cycles.observe(ts, self.counting)
        self.violations.observe(self.counting)

    def stepped(self, hour: int, dt_s: float) -> None:
        if self.counting:
            self.kp.steps += 1
            self.discomfort.stepped(hour, dt_s)

    def finish(self, clamp_episodes: int) -> Kpis:
        self.meters.finish()
        self.discomfort.finish()
        self.violations.finish(clamp_episodes)
        self.counters.finish()
        return self.kp
