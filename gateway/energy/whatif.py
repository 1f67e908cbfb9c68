"""What-if evaluation of rule sets: a ``VirtualSite`` (the simulator's physics, the real
control engine and the daemon's actuator on a virtual clock — no sockets, no sleeping) steps
through a day while ``DayKpis`` collects BOPTEST-style KPIs (gateway/energy/kpis.py: each
KPI is defined there, once) and a ``Trace`` samples the plot's series.

Each step (``step_s``, default 60 s of simulated time): readings are synthesised from the
physics and feed the gateway's ``IntervalAccountant`` (15-minute kWh, tariff period, cost,
demand); the engine ticks; its commands go through the actuator to the simulated units and
the engine hears the read-back (a seeded share of writes can be made to fail,
``write_failure``, to exercise retries and alarms); the building advances. The evaluated day
runs from site-local midnight to midnight after ``warmup_days`` of the same rules and
weather.

Regulatory limits: with ``limits="national"`` (the default) the engine runs under the
stricter of the rule file's limits and the national ones (国办发〔2007〕42号: cooling not below
26 °C, heating not above 20 °C; exemptions as the file declares them, with reasons). A rule
set that asks for more — the naive set's 24 °C — has those commands raised by the engine's
clamp layer (clamp hits, and violations), and the units run at the clamped value. With
``limits="rules"`` each file's own limits apply; units that run outside the national limits
are violations.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from gateway.acquisition.reading import Reading
from gateway.control.engine import ControlEngine
from gateway.control.rules import load_rules
from gateway.control.ruleset import PolicyConfig, RuleSet, UnitInfo
from gateway.control.state import Ctx, Opinion, Proposal, UnitState
from gateway.core.calendar import SiteCalendar
from gateway.core.policy import SetpointPolicy
from gateway.core.site import Site
from gateway.energy.comfort import COOLING_BAND
from gateway.energy.kpis import DayKpis, DemandThreshold, Kpis
from gateway.energy.report_text import period_name
from gateway.energy.tariff import Tariff, load_site_tariff
from gateway.energy.virtual_site import VirtualSite
from gateway.energy.whatif_ev import VirtualCarPark, ev_rows
from gateway.i18n import _, ljust, rjust, width
from simulators.physics import Building, SimRoom, WeatherDay
from simulators.sim_config import SiteSimulation, load_simulation

#: the national limits: gateway.policy.SetpointPolicy's defaults
NATIONAL_COOLING_MIN_C = SetpointPolicy.cooling_floor_c
NATIONAL_HEATING_MAX_C = SetpointPolicy.heating_ceiling_c
#: clamp rules of the engine that mean "the rule set asked for more than the limits allow"
REGULATORY_CLAMPS = frozenset({"clamp:cooling-floor", "clamp:heating-ceiling", "clamp:no-auto"})
Limits = Literal["national", "rules"]
Progress = Callable[[float], None]
#: the weather of a site-local day
WeatherFor = Callable[[date], WeatherDay]


@dataclass
class Trace:
    """Time series of the evaluated day, every ``sample_s``, for the plots."""

    #: hours since local midnight
    hours: list[float] = field(default_factory=list)
    power_kw: list[float] = field(default_factory=list)
    ac_power_kw: list[float] = field(default_factory=list)
    #: the car park's draw (whatif_ev), on the main meter
    ev_power_kw: list[float] = field(default_factory=list)
    outdoor_c: list[float] = field(default_factory=list)
    #: zone → temperatures
    temps: dict[str, list[float]] = field(default_factory=dict)
    #: (start hour, end hour, period)
    periods: list[tuple[float, float, str]] = field(default_factory=list)
    #: 15-minute demand: (start hour, kW)
    demand: list[tuple[float, float]] = field(default_factory=list)
    demand_limit_kw: float | None = None
    band: tuple[float, float] = COOLING_BAND

    def sample(self, hour: float, building: Building, zones: Mapping[str, SimRoom]) -> None:
        """The building ``hour`` hours after midnight."""
        self.hours.append(hour)
        self.power_kw.append(building.total_power_kw)
        self.ac_power_kw.append(building.ac_power_kw)
        self.ev_power_kw.append(building.other_load_kw)
        self.outdoor_c.append(building.outdoor_temp_c)
        for rid, room in zones.items():
            self.temps.setdefault(rid, []).append(room.t_air_c)

    def close(self, begin: datetime, demand: Mapping[float, float], tariff: Tariff | None
              ) -> None:
        """The day's 15-minute demand (window start, epoch s → kW) and tariff periods."""
        t_begin = begin.timestamp()
        self.demand = sorted(((k - t_begin) / 3600.0, v) for k, v in demand.items())
        if tariff is not None:
            for k in range(96):
                at = begin + timedelta(minutes=15 * k)
                p = tariff.rate_at(at.replace(tzinfo=None)).period
                self.periods.append((k / 4, (k + 1) / 4, p))


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


def run_day(site: Site, rules_path: str | Path, day: date, *, weather: str | None = None,
            label: str | None = None, step_s: float = 60.0, warmup_days: int = 1,
            limits: Limits = "national", tariff: Tariff | None = None,
            min_on_s: float = 300.0, min_off_s: float = 300.0, write_failure: float = 0.0,
            seed: int = 1, sample_s: float = 300.0, progress: Progress | None = None,
            rules: RuleSet | None = None, sim_seed: int | None = None,
            observer: Callable[[datetime, Mapping[str, Reading]], None] | None = None,
            weather_for: WeatherFor | None = None, cars: bool = False,
            occupancy: SiteCalendar | None = None) -> RunResult:
    """Simulate ``day`` (site-local) under one rule set; see the module docstring.

    ``sim_seed`` replaces the site's ``simulation.seed`` (who comes in when,
    sensor noise); ``seed`` drives only the simulated write failures.
    ``observer`` sees every step's synthesised readings (warm-up included), as the
    gateway would have published them. ``weather_for``: each day's weather (``run_days``).
    ``cars``: simulate the site file's car park (``escogw whatif`` does unless ``--no-cars``).
    ``occupancy``: the calendar that brings the occupants in (``run_days``).
    Runs its own event loop (the actuator is async): call it from synchronous code.
    """
    trace = Trace()
    days, rules = run_days(site, rules_path, day, day, weather=weather,
                           weather_for=weather_for, label=label,
                           step_s=step_s, warmup_days=warmup_days, limits=limits,
                           tariff=tariff, min_on_s=min_on_s, min_off_s=min_off_s,
                           write_failure=write_failure, seed=seed, sample_s=sample_s,
                           progress=progress, rules=rules, sim_seed=sim_seed,
                           observer=observer, trace=trace, cars=cars, occupancy=occupancy)
    return RunResult(days[0], trace, rules)


def run_days(site: Site, rules_path: str | Path, first: date, last: date, *,
             weather: str | None = None, weather_for: WeatherFor | None = None,
             label: str | None = None, step_s: float = 60.0, warmup_days: int = 1,
             limits: Limits = "national", tariff: Tariff | None = None,
             min_on_s: float = 300.0, min_off_s: float = 300.0, write_failure: float = 0.0,
             seed: int = 1, sample_s: float = 300.0, progress: Progress | None = None,
             rules: RuleSet | None = None, sim_seed: int | None = None,
             observer: Callable[[datetime, Mapping[str, Reading]], None] | None = None,
             trace: Trace | None = None, demand_limit: DemandThreshold | None = None,
             cars: bool = False, occupancy: SiteCalendar | None = None
             ) -> tuple[list[Kpis], RuleSet]:
    """Simulate ``first``..``last`` (site-local, inclusive) in one continuous run under one
    rule set, after ``warmup_days``; one ``Kpis`` per day (``run_day``'s arguments).

    ``weather_for``: each local day's weather (the building switches at midnight; it
    beats ``weather``). ``trace``: filled with the *first* evaluated day's series.
    ``demand_limit``: the limit whose windows each day's ``demand_windows_over_limit``
    counts (default: the rule set's own). ``cars``: simulate the site file's car park, if
    it declares one (gateway/energy/whatif_ev.py). ``occupancy``: the calendar whose working
    days bring the simulated occupants and the car park's cars in (default: the rule set's
    own); a comparison passes the first rule set's to both runs, so that both buildings see
    the same people and cars (a closure declared in one rule file empties both buildings,
    not only its own).
    """
    if not 1.0 <= step_s <= 900.0 or 900.0 % step_s:
        raise ValueError("step_s must divide 15 minutes (1..900 s)")
    if last < first:
        raise ValueError(f"the last day {last} is before the first {first}")
    wall0 = time.perf_counter()
    rules = rules or load_rules(rules_path, site)
    if limits == "national":
        rules = national_limits(rules)
    if tariff is None and site.spec.site.tariff is not None:
        tariff = load_site_tariff(site.spec.site.tariff, site_path=site.path)
    engine = _ObservedEngine(rules)
    tz = site.tz
    start_day = first - timedelta(days=warmup_days)
    sim = with_overrides(load_simulation(site), weather, sim_seed)
    vsite = VirtualSite(site, engine, sim, write_failure=write_failure, seed=seed,
                        weather=weather_for(start_day) if weather_for else None,
                        occupancy=occupancy)
    charging = site.spec.charging if cars else None
    park = VirtualCarPark(charging, rules, engine.demand, tz, seed=sim.config.seed,
                          step_s=step_s, calendar=occupancy) if charging is not None else None
    n_days = (last - first).days + 1
    #: local midnights: of the first simulated day .. after the last evaluated one
    midnights = [datetime.combine(start_day + timedelta(days=k), datetime.min.time(),
                                  tzinfo=tz).timestamp()
                 for k in range(warmup_days + n_days + 1)]
    t0, t_begin, t_end = midnights[0], midnights[warmup_days], midnights[-1]
    total_steps = round((t_end - t0) / step_s)

    def bounds(k: int) -> tuple[datetime, datetime]:
        return (datetime.fromtimestamp(midnights[warmup_days + k], tz),
                datetime.fromtimestamp(midnights[warmup_days + k + 1], tz))

    kpis = DayKpis(label or Path(rules_path).stem, first, site, rules, vsite.building, tariff,
                   *bounds(0), min_on_s=min_on_s, min_off_s=min_off_s,
                   demand_limit=demand_limit)
    zones = kpis.discomfort.zones
    if trace is not None:
        trace.band = kpis.band
        trace.demand_limit_kw = rules.demand.limit_kw if rules.demand else None
    done: list[Kpis] = []
    #: the clamp episodes and wall time before the day being counted
    episodes_before, wall_before = 0, wall0

    def close_day() -> None:
        nonlocal episodes_before, wall_before
        kp = kpis.finish(engine.episodes - episodes_before)
        if park is not None:
            kp.ev = park.finish_day(*bounds(len(done)), kpis.meters.site_demand, tariff)
        episodes_before = engine.episodes
        now = time.perf_counter()
        kp.wall_s, wall_before = now - wall_before, now
        done.append(kp)

    async def steps() -> None:  # one event loop for the run: the actuator's awaits are calls
        next_midnight = 1
        next_sample = t_begin
        for n in range(total_steps):
            ts = t0 + n * step_s
            t = datetime.fromtimestamp(ts, UTC)
            new_day = ts >= midnights[next_midnight]
            if new_day:
                next_midnight += 1
                if weather_for is not None:
                    vsite.building.weather = weather_for(t.astimezone(tz).date())
            latest = vsite.read(t)
            if observer is not None:
                observer(t, latest)
            kpis.read(latest)  # at midnight this closes the previous day's last interval
            if ts >= t_begin:
                if not kpis.counting:
                    kpis.start()
                    engine.counting = True
                elif new_day:
                    close_day()
                    kpis.next_day(*_day_and_bounds(len(done)))
            writes = await vsite.control(t, latest)
            kpis.actuated(ts, (outcome for _write, outcome in writes.outcomes), writes.alarms,
                          writes.tick_alarms)
            if park is not None:  # the chargers' draw on the main meter for this step
                vsite.building.other_load_kw = park.step(ts)
            vsite.advance(t, step_s)
            kpis.stepped(t.astimezone(tz).hour, step_s)
            if trace is not None and t_begin <= ts < midnights[warmup_days + 1] \
                    and ts >= next_sample:
                next_sample += sample_s
                trace.sample((ts + step_s - t_begin) / 3600.0, vsite.building, zones)
            if progress is not None and n % 60 == 0:
                progress((n + 1) / total_steps)

    def _day_and_bounds(k: int) -> tuple[date, datetime, datetime]:
        return (first + timedelta(days=k), *bounds(k))

    asyncio.run(steps())
    # the last interval closes with a reading at midnight
    t = datetime.fromtimestamp(t_end, UTC)
    final = vsite.read(t)
    if observer is not None:
        observer(t, final)
    kpis.read(final)
    if progress is not None:
        progress(1.0)
    if trace is not None and n_days == 1:
        trace.close(bounds(0)[0], kpis.meters.site_demand, tariff)
    close_day()
    if trace is not None and n_days == 1:
        done[0].wall_s = time.perf_counter() - wall0
    return done, rules


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
            row(_("energy, site (kWh)"), lambda k: k.energy_kwh, ".1f"),
            row(_("energy per m² (kWh/m²)"), lambda k: k.energy_kwh_per_m2, ".3f"),
            row(_("energy, air conditioning (kWh)"), lambda k: k.ac_energy_kwh, ".1f"),
            row(_("cost, site (CNY)"), lambda k: float(k.cost), ".2f"),
            row(_("cost, air conditioning (CNY)"), lambda k: float(k.ac_cost), ".2f"),
            row(_("peak 15-min demand, site (kW)"), lambda k: k.peak_kw, ".2f"),
            row(_("peak 15-min demand, AC (kW)"), lambda k: k.ac_peak_kw, ".2f"),
            row(_("discomfort (K·h per zone)"), lambda k: k.discomfort_kh_per_zone, ".3f",
                False),
            row(_("occupants switching a unit on"), lambda k: k.occupant_switch_ons, ".0f",
                False),
            row(_("compressor starts per unit"), lambda k: k.starts_per_unit, ".1f", False),
            row(_("short cycles"), lambda k: k.short_cycles, ".0f", False),
            row(_("clamp hits"), lambda k: k.clamp_hits, ".0f", False),
            row(_("regulatory violations"), lambda k: k.violations, ".0f", False),
            row(_("commands written"), lambda k: k.commands, ".0f", False),
            row(_("unmet commands"), lambda k: k.unmet_commands, ".0f", False),
            *ev_rows([a], [b] if b is not None else None, change_pct),
        ]

    def text(self) -> str:
        a = self.a.kpis
        cols = 4 if self.b else 2
        headers = (_("KPI"), a.label, self.b.kpis.label if self.b else "",
                   _("A vs B"))[:cols]
        rows = [headers, *(r[:cols] for r in self.rows())]
        widths = [max(width(r[i]) for r in rows) for i in range(cols)]
        lines = []
        for n, r in enumerate(rows):
            lines.append("  ".join(ljust(c, widths[0]) if i == 0 else rjust(c, widths[i])
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
    for band in bands:
        if band.label:
            band.label = period_name(band.label)
    local_time = _("site-local time")
    power = LineChart(_("Site power (main meter) and 15-minute demand"), y_label="kW",
                      x_label=local_time, bands=bands, x_range=(0.0, 24.0),
                      x_ticks=hour_ticks, x_format=hours_format)
    colours = ("#0072B2", "#D55E00")
    for r, colour in zip(runs, colours, strict=False):
        power.series.append(Series(_("{label} power").format(label=r.kpis.label), list(zip(
            r.trace.hours, r.trace.power_kw, strict=True)), colour, 1.2))
        power.series.append(Series(_("{label} 15-min demand").format(label=r.kpis.label),
                                   list(r.trace.demand), colour, 2.2, dashed=True, step=True,
                                   hold=0.25))
        if any(r.trace.ev_power_kw):
            power.series.append(Series(_("{label} charging").format(label=r.kpis.label),
                                       list(zip(r.trace.hours, r.trace.ev_power_kw,
                                                strict=True)), colour, 0.8, dashed=True))
    if a.trace.demand_limit_kw is not None:
        power.hlines.append(HLine(a.trace.demand_limit_kw, _(
            "{label} demand limit {limit} kW").format(label=a.kpis.label,
                                                      limit=f"{a.trace.demand_limit_kw:g}")))
    temps = LineChart(_("Room air temperature of the occupied zones (mean, and the warmest)"),
                      y_label="°C", x_label=local_time, bands=bands,
                      x_range=(0.0, 24.0), x_ticks=hour_ticks, x_format=hours_format)
    lo, hi = a.trace.band
    temps.hlines += [HLine(lo, _("comfort band {lo}–{hi} °C").format(lo=f"{lo:g}",
                                                                       hi=f"{hi:g}"),
                           "#009E73"),
                     HLine(hi, "", "#009E73")]
    for r, colour in zip(runs, colours, strict=False):
        mean, top = _mean_max(r.trace)
        temps.series.append(Series(_("{label} mean").format(label=r.kpis.label),
                                   list(zip(r.trace.hours, mean, strict=True)), colour, 2))
        temps.series.append(Series(_("{label} warmest").format(label=r.kpis.label),
                                   list(zip(r.trace.hours, top, strict=True)),
                                   colour, 1.0, dashed=True))
    zones = LineChart(_("Every occupied zone under {label}").format(label=a.kpis.label),
                      y_label="°C", x_label=local_time, bands=bands, x_range=(0.0, 24.0),
                      x_ticks=hour_ticks, x_format=hours_format, legend=False)
    zones.hlines += [HLine(lo, "", "#009E73"), HLine(hi, "", "#009E73")]
    for zone, values in a.trace.temps.items():
        zones.series.append(Series(zone, list(zip(a.trace.hours, values, strict=True)),
                                   None, 0.8))
    zones.frame.height = 340
    rows = cmp.rows()
    headers = [_("KPI"), a.kpis.label] + ([cmp.b.kpis.label, _("A vs B")] if cmp.b else [])
    body = [f"<h1>{escape(title)}</h1>",
            html_table(headers, [r[:len(headers)] for r in rows]),
            "".join(f'<p class="note">{escape(n)}</p>' for n in notes or []),
            power.render(), temps.render(), zones.render() if len(a.trace.temps) <= 60 else ""]
    return page(title, "\n".join(body))
