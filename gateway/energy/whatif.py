"""What-if evaluation of rule sets: the simulator's physics and the real control engine on a
virtual clock — no sockets, no sleeping — and BOPTEST-style KPIs.

Each step (``step_s``, default 60 s of simulated time):

1. readings are synthesised from the physics, as the devices would report them
   (``SitePhysics.device_values``, only the points of each device's profile);
2. ``ControlEngine.tick`` (the same engine ``escogw run`` uses) turns them into
   commands;
3. the commands go straight to the physics AC units (``SitePhysics.apply_write``)
   and the engine is told the read-back value (``note_outcome``); a seeded share
   of writes can be made to fail (``write_failure``) to exercise retries;
4. the building advances one step; the meters' counters feed the same
   ``IntervalAccountant`` as the gateway (15-minute kWh, tariff period, cost,
   demand).

Regulatory limits: with ``limits="national"`` (the default) the engine runs
under the stricter of the rule file's limits and the national ones (国办发
〔2007〕42号: cooling not below 26 °C, heating not above 20 °C; exemptions as
the file declares them, with reasons). A rule set that asks for more — the
naive set's 24 °C — has those commands raised by the engine's clamp layer:
each such command counts as a **clamp hit** and as a **regulatory violation**
(a command that would have breached the limits), and the units run at the
clamped value. With ``limits="rules"`` each file's own limits apply; commands
that reach a unit outside the national limits are counted as violations.

KPIs (``Kpis``), over the evaluated day (site-local midnight to midnight, after
``warmup_days`` of the same rules and weather):

- energy, cost, peak 15-minute demand of the site's main meters (``role: main``,
  else every electricity meter), and the AC share (``role: ac`` meters, else the
  units' own energy);
- thermal discomfort ``tdis`` (BOPTEST): Σ over zones of ∫|deviation from the
  comfort band| dt over the zone's occupied time, / number of zones, in K·h per
  zone. Band 26–28 °C in the cooling months of the rule set, 18–20 °C
  otherwise; a zone is a room with occupants; it is occupied while the
  simulation has people in it; the temperature is the room's air temperature;
- compressor starts (per unit per day), short cycles (a unit switched on for
  less than ``min_on_s`` or off for less than ``min_off_s``, 300 s each by
  default — the same thresholds for every rule set), clamp hits, regulatory
  violations, commands, unmet commands (writes that did not take after the
  engine's retries: its ``write:<device>:<point>`` alarms).
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control.engine import ControlEngine
from gateway.control.rules_model import load_rules
from gateway.control.ruleset import PolicyConfig, RuleSet, UnitInfo
from gateway.control.state import Ctx, Opinion, Proposal, UnitState
from gateway.core.calendar import WORKING
from gateway.core.policy import SetpointPolicy
from gateway.core.profile import Value
from gateway.core.semantics import MODE_CODES
from gateway.core.site import Site
from gateway.energy.accounting import Interval, IntervalAccountant, main_meters, site_meters
from gateway.energy.comfort import COOLING_BAND, comfort_band, outside_band
from gateway.energy.tariff import Tariff, load_site_tariff
from simulators.physics import DayKind
from simulators.sim_config import SiteSimulation, load_simulation
from simulators.site_physics import SitePhysics

#: the national limits: gateway.policy.SetpointPolicy's defaults
NATIONAL_COOLING_MIN_C = SetpointPolicy.cooling_floor_c
NATIONAL_HEATING_MAX_C = SetpointPolicy.heating_ceiling_c
#: clamp rules of the engine that mean "the rule set asked for more than the limits allow"
REGULATORY_CLAMPS = frozenset({"clamp:cooling-floor", "clamp:heating-ceiling", "clamp:no-auto"})
Limits = Literal["national", "rules"]
Progress = Callable[[float], None]


@dataclass
class Kpis:
    label: str
    day: date
    #: site (main meters)
    energy_kwh: float = 0.0
    cost: Decimal = Decimal(0)
    peak_kw: float = 0.0
    cost_by_period: dict[str, Decimal] = field(default_factory=dict)
    kwh_by_period: dict[str, float] = field(default_factory=dict)
    #: air conditioning only
    ac_energy_kwh: float = 0.0
    ac_cost: Decimal = Decimal(0)
    ac_peak_kw: float = 0.0
    floor_area_m2: float = 0.0
    zones: int = 0
    discomfort_kh: float = 0.0
    discomfort_by_zone: dict[str, float] = field(default_factory=dict)
    #: local hour → K·h summed over the zones (where in the day the discomfort is)
    discomfort_by_hour: dict[int, float] = field(default_factory=dict)
    occupied_zone_hours: float = 0.0
    units: int = 0
    compressor_starts: int = 0
    short_cycles: int = 0
    clamp_hits: int = 0
    violations: int = 0
    commands: int = 0
    unmet_commands: int = 0
    #: times occupants switched their room's units back on (too warm or cold)
    occupant_switch_ons: int = 0
    failed_writes: int = 0
    wall_s: float = 0.0
    steps: int = 0

    @property
    def discomfort_kh_per_zone(self) -> float:
        return self.discomfort_kh / self.zones if self.zones else 0.0

    @property
    def energy_kwh_per_m2(self) -> float:
        return self.energy_kwh / self.floor_area_m2 if self.floor_area_m2 else 0.0

    @property
    def starts_per_unit(self) -> float:
        return self.compressor_starts / self.units if self.units else 0.0


@dataclass
class Trace:
    """Time series of the evaluated day, every ``sample_s``, for the plots."""

    #: hours since local midnight
    hours: list[float] = field(default_factory=list)
    power_kw: list[float] = field(default_factory=list)
    ac_power_kw: list[float] = field(default_factory=list)
    outdoor_c: list[float] = field(default_factory=list)
    #: zone → temperatures
    temps: dict[str, list[float]] = field(default_factory=dict)
    #: (start hour, end hour, period)
    periods: list[tuple[float, float, str]] = field(default_factory=list)
    #: 15-minute demand: (start hour, kW)
    demand: list[tuple[float, float]] = field(default_factory=list)
    demand_limit_kw: float | None = None
    band: tuple[float, float] = COOLING_BAND


@dataclass
class RunResult:
    kpis: Kpis
    trace: Trace
    rules: RuleSet


def national_limits(rules: RuleSet) -> RuleSet:
    """The rule set under the stricter of its own and the national limits."""
    p = rules.policy
    strict = PolicyConfig(max(p.cooling_min_c, NATIONAL_COOLING_MIN_C),
                          min(p.heating_max_c, NATIONAL_HEATING_MAX_C), p.cooling_months,
                          p.exemptions)
    if strict == p:
        return rules
    return dataclasses.replace(rules, policy=strict)


def with_overrides(sim: SiteSimulation, weather: str | None,
                   seed: int | None = None) -> SiteSimulation:
    """The site's simulation with another weather and/or seed (occupants' draws, noise)."""
    update: dict[str, object] = {}
    if weather is not None:
        update["weather"] = weather
    if seed is not None:
        update["seed"] = seed
    if not update:
        return sim
    return SiteSimulation(sim.site, sim.config.model_copy(update=update), sim.devices)


class _ObservedEngine(ControlEngine):
    """The real engine, watching its own clamp layer: an *episode* starts when the regulatory
    clamp begins to decide a point of a unit (the rule set asked for more than the limits
    allow) and lasts while it keeps deciding it; episodes that start while ``counting`` are
    counted — whether or not a write followed (a unit already at the floor needs none)."""

    def __init__(self, rules: RuleSet):
        super().__init__(rules)
        self.counting = False
        self.episodes = 0
        self._clamped: set[tuple[str, int]] = set()

    def decide(self, unit: UnitInfo, state: UnitState, ctx: Ctx,
               trace: list[Opinion] | None = None) -> Proposal:
        proposal = super().decide(unit, state, ctx, trace)
        for p, w in enumerate(proposal.who):
            key = (unit.id, p)
            if w is not None and w.rule in REGULATORY_CLAMPS:
                if key not in self._clamped:
                    self._clamped.add(key)
                    if self.counting:
                        self.episodes += 1
            elif key in self._clamped:
                self._clamped.discard(key)
        return proposal


class _Cycles:
    """On/off history of one unit for the short-cycle count."""

    __slots__ = ("power", "since")

    def __init__(self, power: bool, since: float):
        self.power = power
        self.since = since


def run_day(site: Site, rules_path: str | Path, day: date, *, weather: str | None = None,
            label: str | None = None, step_s: float = 60.0, warmup_days: int = 1,
            limits: Limits = "national", tariff: Tariff | None = None,
            min_on_s: float = 300.0, min_off_s: float = 300.0, write_failure: float = 0.0,
            seed: int = 1, sample_s: float = 300.0, progress: Progress | None = None,
            rules: RuleSet | None = None, sim_seed: int | None = None,
            observer: Callable[[datetime, Mapping[str, Reading]], None] | None = None
            ) -> RunResult:
    """Simulate ``day`` (site-local) under one rule set; see the module docstring.

    ``sim_seed`` replaces the site's ``simulation.seed`` (who comes in when,
    sensor noise); ``seed`` drives only the simulated write failures.
    ``observer`` sees every step's synthesised readings (warm-up included), as the
    gateway would have published them.
    """
    if not 1.0 <= step_s <= 900.0 or 900.0 % step_s:
        raise ValueError("step_s must divide 15 minutes (1..900 s)")
    wall0 = time.perf_counter()
    rules = rules or load_rules(rules_path, site)
    if limits == "national":
        rules = national_limits(rules)
    sim = with_overrides(load_simulation(site), weather, sim_seed)
    physics = SitePhysics(sim)
    building = physics.building
    tz = site.tz
    if tariff is None and site.spec.site.tariff is not None:
        tariff = load_site_tariff(site.spec.site.tariff, site_path=site.path)
    engine = _ObservedEngine(rules)
    national = SetpointPolicy(exemptions=dict(rules.policy.exemptions))
    rng = random.Random(seed)

    meters = site_meters(site)
    accountant = IntervalAccountant(meters, tz, tariff)
    main = main_meters(meters)
    ac_meters = [m.device for m in meters if m.unit == "kwh" and m.tags.get("role") == "ac"]
    polled = {d for d in rules.units}
    if rules.demand is not None:
        polled.add(rules.demand.meter)
    polled.update(m.device for m in meters)
    outdoor_ref = rules.outdoor
    points = {d: set(site.devices[d].profile.points) for d in polled if d in site.devices}
    zone_of = {uid: u.zone for uid, u in rules.units.items()}

    begin = datetime(day.year, day.month, day.day, tzinfo=tz)
    start = begin - timedelta(days=warmup_days)
    end = begin + timedelta(days=1)
    t0, t_begin, t_end = start.timestamp(), begin.timestamp(), end.timestamp()
    total_steps = round((t_end - t0) / step_s)
    cooling = day.month in rules.policy.cooling_months
    band = comfort_band(cooling)

    kp = Kpis(label or Path(rules_path).stem, day, floor_area_m2=site.spec.site.floor_area_m2)
    trace = Trace(band=band, demand_limit_kw=rules.demand.limit_kw if rules.demand else None)
    zones = {rid: r for rid, r in building.rooms.items() if r.occupancy.occupants > 0}
    kp.zones = len(zones)
    kp.units = len(building.units)
    disc = dict.fromkeys(zones, 0.0)
    by_hour: dict[int, float] = {}
    cycles = {uid: _Cycles(u.power, -math.inf) for uid, u in building.units.items()}
    starts0: dict[str, int] = {}
    switch_ons0 = 0
    unit_energy0 = 0.0
    alarmed: set[str] = set()
    breaching: set[str] = set()
    day_kinds: dict[date, DayKind] = {}

    def day_kind(d: date) -> DayKind:
        k = day_kinds.get(d)
        if k is None:
            k = day_kinds[d] = DayKind.WORKDAY if rules.calendar.day(d).type in WORKING \
                else DayKind.OFF_DAY
        return k

    def readings(t: datetime, seq: int) -> dict[str, Reading]:
        out = {}
        for dev in polled:
            allowed = points.get(dev)
            values: dict[str, Value] = {k: v for k, v in physics.device_values(dev).items()
                                        if allowed is None or k in allowed}
            out[dev] = Reading(dev, t, seq, values)
        if outdoor_ref is not None:
            out[outdoor_ref.device] = Reading(outdoor_ref.device, t, seq,
                                              {outdoor_ref.point: building.outdoor_temp_c})
        return out

    demand_by_start: dict[float, float] = {}
    ac_demand: dict[float, float] = {}

    def closed(intervals: list[Interval], in_day: bool) -> None:
        if not in_day:
            return
        for iv in intervals:
            if not t_begin <= iv.start.timestamp() < t_end:
                continue
            if iv.device in main:
                kp.energy_kwh += iv.amount
                if iv.cost is not None:
                    kp.cost += iv.cost
                    p = iv.period or "flat"
                    kp.cost_by_period[p] = kp.cost_by_period.get(p, Decimal(0)) + iv.cost
                    kp.kwh_by_period[p] = kp.kwh_by_period.get(p, 0.0) + iv.amount
                k = iv.start.timestamp()
                demand_by_start[k] = demand_by_start.get(k, 0.0) + (iv.demand_kw or 0.0)
            elif iv.device in ac_meters:
                kp.ac_energy_kwh += iv.amount
                if iv.cost is not None:
                    kp.ac_cost += iv.cost
                k = iv.start.timestamp()
                ac_demand[k] = ac_demand.get(k, 0.0) + (iv.demand_kw or 0.0)

    seq = 0
    next_sample = t_begin
    for n in range(total_steps):
        ts = t0 + n * step_s
        t = datetime.fromtimestamp(ts, UTC)
        local = t.astimezone(tz)
        in_day = ts >= t_begin
        if in_day and not starts0:
            engine.counting = True
            starts0 = {uid: u.compressor_starts for uid, u in building.units.items()}
            unit_energy0 = sum(u.energy_kwh for u in building.units.values())
            switch_ons0 = building.occupant_switch_ons
        seq += 1
        latest = readings(t, seq)
        if observer is not None:
            observer(t, latest)
        for m in meters:
            closed(accountant.add(latest[m.device]), in_day)
        result = engine.tick(t, latest)
        for cmd in result.all_commands():
            if in_day:
                kp.commands += 1
            unit = building.units.get(cmd.device)
            if write_failure > 0 and rng.random() < write_failure:
                outcome = WriteOutcome(False, "simulated write failure")
                if in_day:
                    kp.failed_writes += 1
            else:
                physics.apply_write(cmd.device, cmd.point, cmd.value)
                applied: Value | None = None
                if unit is not None:
                    applied = {"power": 1 if unit.power else 0,
                               "mode": MODE_CODES[str(unit.mode)],
                               "setpoint_c": round(unit.setpoint_c, 1)}.get(cmd.point, cmd.value)
                outcome = WriteOutcome(True, None, applied)
            for alarm in engine.note_outcome(cmd, outcome, t):
                if alarm.active and alarm.key.startswith("write:") and alarm.key not in alarmed:
                    alarmed.add(alarm.key)
                    if in_day:
                        kp.unmet_commands += 1
        for uid, u in building.units.items():
            c = cycles[uid]
            if u.power != c.power:
                held = ts - c.since
                if in_day and held < (min_on_s if c.power else min_off_s):
                    kp.short_cycles += 1
                c.power, c.since = u.power, ts
            breach = u.power and national.violation(
                zone_of.get(uid), MODE_CODES[str(u.mode)], u.setpoint_c) is not None
            if breach and uid not in breaching and in_day:
                kp.violations += 1  # a unit runs outside the national limits (a new episode)
            if breach:
                breaching.add(uid)
            else:
                breaching.discard(uid)
        physics.step(step_s, local.replace(tzinfo=None), day_kind(local.date()))
        if in_day:
            kp.steps += 1
            h = step_s / 3600.0
            hour = local.hour
            for rid, room in zones.items():
                if room.occupancy.people_present > 0:
                    temp = room.t_air_c
                    off = outside_band(temp, band)
                    if off:
                        disc[rid] += off * h
                        by_hour[hour] = by_hour.get(hour, 0.0) + off * h
                    kp.occupied_zone_hours += h
            if ts >= next_sample:
                next_sample += sample_s
                trace.hours.append((ts + step_s - t_begin) / 3600.0)
                trace.power_kw.append(building.total_power_kw)
                trace.ac_power_kw.append(building.ac_power_kw)
                trace.outdoor_c.append(building.outdoor_temp_c)
                for rid, room in zones.items():
                    trace.temps.setdefault(rid, []).append(room.t_air_c)
        if progress is not None and n % 60 == 0:
            progress((n + 1) / total_steps)
    # the last interval closes with a reading at midnight
    t = datetime.fromtimestamp(t_end, UTC)
    final = readings(t, seq + 1)
    if observer is not None:
        observer(t, final)
    for m in meters:
        closed(accountant.add(final[m.device]), True)
    if progress is not None:
        progress(1.0)
    if not ac_meters:
        kp.ac_energy_kwh = sum(u.energy_kwh for u in building.units.values()) - unit_energy0
    kp.clamp_hits = engine.episodes
    kp.violations += engine.episodes
    kp.peak_kw = max(demand_by_start.values(), default=0.0)
    kp.ac_peak_kw = max(ac_demand.values(), default=0.0)
    kp.compressor_starts = sum(u.compressor_starts - starts0.get(uid, 0)
                               for uid, u in building.units.items())
    kp.occupant_switch_ons = building.occupant_switch_ons - switch_ons0
    kp.discomfort_by_zone = disc
    kp.discomfort_by_hour = dict(sorted(by_hour.items()))
    kp.discomfort_kh = sum(disc.values())
    trace.demand = sorted(((k - t_begin) / 3600.0, v) for k, v in demand_by_start.items())
    if tariff is not None:
        for k in range(96):
            at = begin + timedelta(minutes=15 * k)
            p = tariff.rate_at(at.replace(tzinfo=None)).period
            trace.periods.append((k / 4, (k + 1) / 4, p))
    kp.wall_s = time.perf_counter() - wall0
    return RunResult(kp, trace, rules)


def change_pct(new: float, old: float) -> float:
    return (new - old) / old * 100.0 if old else 0.0


@dataclass
class Comparison:
    a: RunResult
    b: RunResult | None

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(KPI, A, B, change) for the side-by-side table."""
        a = self.a.kpis
        b = self.b.kpis if self.b is not None else None

        def row(name: str, fa: Callable[[Kpis], float], fmt: str,
                pct: bool = True) -> tuple[str, str, str, str]:
            va = fa(a)
            if b is None:
                return name, format(va, fmt), "", ""
            vb = fa(b)
            ch = f"{change_pct(va, vb):+.1f} %" if pct and vb else \
                (f"{va - vb:+{fmt}}" if not pct else "")
            return name, format(va, fmt), format(vb, fmt), ch

        return [
            row("energy, site (kWh)", lambda k: k.energy_kwh, ".1f"),
            row("energy per m² (kWh/m²)", lambda k: k.energy_kwh_per_m2, ".3f"),
            row("energy, air conditioning (kWh)", lambda k: k.ac_energy_kwh, ".1f"),
            row("cost, site (CNY)", lambda k: float(k.cost), ".2f"),
            row("cost, air conditioning (CNY)", lambda k: float(k.ac_cost), ".2f"),
            row("peak 15-min demand, site (kW)", lambda k: k.peak_kw, ".2f"),
            row("peak 15-min demand, AC (kW)", lambda k: k.ac_peak_kw, ".2f"),
            row("discomfort (K·h per zone)", lambda k: k.discomfort_kh_per_zone, ".3f", False),
            row("occupants switching a unit on", lambda k: k.occupant_switch_ons, ".0f", False),
            row("compressor starts per unit", lambda k: k.starts_per_unit, ".1f", False),
            row("short cycles", lambda k: k.short_cycles, ".0f", False),
            row("clamp hits", lambda k: k.clamp_hits, ".0f", False),
            row("regulatory violations", lambda k: k.violations, ".0f", False),
            row("commands", lambda k: k.commands, ".0f", False),
            row("unmet commands", lambda k: k.unmet_commands, ".0f", False),
        ]

    def text(self) -> str:
        a = self.a.kpis
        cols = 4 if self.b else 2
        headers = ("KPI", a.label, self.b.kpis.label if self.b else "", "A vs B")[:cols]
        rows = [headers, *(r[:cols] for r in self.rows())]
        widths = [max(len(r[i]) for r in rows) for i in range(cols)]
        lines = []
        for n, r in enumerate(rows):
            lines.append("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                                   for i, c in enumerate(r)).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def figures(self) -> dict[str, float]:
        """The bench figures, A against B: the AC sub-meter's (what rule sets control, as
        BOPTEST's HVAC KPIs and IPMVP option B), then the whole site's."""
        a = self.a.kpis
        b = self.b.kpis if self.b is not None else a
        return {"whatif_cost_change_pct": round(change_pct(float(a.ac_cost),
                                                           float(b.ac_cost)), 2),
                "whatif_peak_change_pct": round(change_pct(a.ac_peak_kw, b.ac_peak_kw), 2),
                "whatif_discomfort_kh_per_zone": round(a.discomfort_kh_per_zone, 3),
                "whatif_violations": float(a.violations),
                "whatif_short_cycles": float(a.short_cycles),
                "whatif_site_cost_change_pct": round(change_pct(float(a.cost),
                                                                float(b.cost)), 2),
                "whatif_site_peak_change_pct": round(change_pct(a.peak_kw, b.peak_kw), 2)}


# -- the plot ----------------------------------------------------------------------------------


def _mean_max(trace: Trace) -> tuple[list[float], list[float]]:
    zones = list(trace.temps.values())
    if not zones:
        return [], []
    n = len(trace.hours)
    mean = [sum(z[i] for z in zones) / len(zones) for i in range(n)]
    top = [max(z[i] for z in zones) for i in range(n)]
    return mean, top


def comparison_html(cmp: Comparison, title: str, notes: list[str] | None = None) -> str:
    """A self-contained HTML page: the KPI table, power and room temperatures over the day
    with the tariff periods shaded."""
    from html import escape

    from gateway.energy.svg import HLine, LineChart, Series, hours_format, page, period_bands
    from gateway.energy.svg import table as html_table

    runs = [r for r in (cmp.a, cmp.b) if r is not None]
    a = cmp.a
    bands = period_bands(a.trace.periods)
    hour_ticks = [float(h) for h in range(0, 25, 2)]
    power = LineChart("Site power (main meter) and 15-minute demand", y_label="kW",
                      x_label="site-local time", bands=bands, x_range=(0.0, 24.0),
                      x_ticks=hour_ticks, x_format=hours_format)
    colours = ("#0072B2", "#D55E00")
    for r, colour in zip(runs, colours, strict=False):
        power.series.append(Series(f"{r.kpis.label} power", list(zip(
            r.trace.hours, r.trace.power_kw, strict=True)), colour, 1.2))
        power.series.append(Series(f"{r.kpis.label} 15-min demand", r.trace.demand, colour, 2.2,
                                   dashed=True, step=True))
    if a.trace.demand_limit_kw is not None:
        power.hlines.append(HLine(a.trace.demand_limit_kw,
                                  f"{a.kpis.label} demand limit {a.trace.demand_limit_kw:g} kW"))
    temps = LineChart("Room air temperature of the occupied zones (mean, and the warmest)",
                      y_label="°C", x_label="site-local time", bands=bands,
                      x_range=(0.0, 24.0), x_ticks=hour_ticks, x_format=hours_format)
    lo, hi = a.trace.band
    temps.hlines += [HLine(lo, f"comfort band {lo:g}-{hi:g} °C", "#009E73"),
                     HLine(hi, "", "#009E73")]
    for r, colour in zip(runs, colours, strict=False):
        mean, top = _mean_max(r.trace)
        temps.series.append(Series(f"{r.kpis.label} mean", list(zip(r.trace.hours, mean,
                                                                     strict=True)), colour, 2))
        temps.series.append(Series(f"{r.kpis.label} warmest", list(zip(r.trace.hours, top,
                                                                       strict=True)),
                                   colour, 1.0, dashed=True))
    zones = LineChart(f"Every occupied zone under {a.kpis.label}", y_label="°C",
                      x_label="site-local time", bands=bands, x_range=(0.0, 24.0),
                      x_ticks=hour_ticks, x_format=hours_format, legend=False)
    zones.hlines += [HLine(lo, "", "#009E73"), HLine(hi, "", "#009E73")]
    for zone, values in a.trace.temps.items():
        zones.series.append(Series(zone, list(zip(a.trace.hours, values, strict=True)),
                                   None, 0.8))
    zones.frame.height = 340
    rows = cmp.rows()
    headers = ["KPI", a.kpis.label] + ([cmp.b.kpis.label, "A vs B"] if cmp.b else [])
    body = [f"<h1>{escape(title)}</h1>",
            html_table(headers, [r[:len(headers)] for r in rows]),
            "".join(f'<p class="note">{escape(n)}</p>' for n in notes or []),
            power.render(), temps.render(), zones.render() if len(a.trace.temps) <= 60 else ""]
    return page(title, "\n".join(body))
