"""Rule files → ``RuleSet``: validate the file, check it against the site, compile it whole.

``load_rules(path, site)`` validates the file (``schema``), then checks it
against the site: groups, devices, zones, what each unit's profile can do, the
regulatory limits, the tariff, overlaps (``context``, ``slots``, ``precool``
and the sections below). Every mistake is reported as ``file:line: field:
message``, all of them at once; a file with any mistake yields no rule set at
all, so a bad edit never half-applies.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gateway.control.rules import feedback, precool, slots
from gateway.control.rules.context import Context, digest, unit_list
from gateway.control.rules.schema import RuleFile
from gateway.control.ruleset import (
    DemandConfig,
    EngineConfig,
    OccupancyRule,
    OverrideConfig,
    PolicyConfig,
    ProtectionConfig,
    RuleSet,
    SafetyConfig,
    SensorRef,
    WindowRule,
)
from gateway.core.calendar import Closure, DayType, OfficialYear, OpenDay, SiteCalendar
from gateway.core.semantics import MODE_CODES, suggest
from gateway.core.site import Site
from gateway.core.sourcefile import ConfigError, Loc, Problem, load_yaml
from gateway.ev.charging_rules import ChargingRules, compile_charging, unknown_chargers


def load_rules(path: str | Path, site: Site, *, tariffs_dir: Path | None = None) -> RuleSet:
    """Load, validate and compile a rule file for ``site``.

    Raises ConfigError listing every problem (``file:line: field: message``).
    """
    doc = load_yaml(path)
    if doc.data == {}:  # an empty file (or one a copy cut short) must not clear every rule
        raise ConfigError([doc.problem((), "the rule file is empty; a site without AC rules "
                                           "says so: groups: {}")])
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "a rule file is a mapping (groups:, schedules:, "
                                            "policy: …)")])
    try:
        spec = doc.validate(RuleFile)
    except ConfigError as exc:
        raise ConfigError([_tidy(p) for p in exc.problems]) from None
    ctx = Context(doc, spec, site, tariffs_dir)
    if spec.site is not None and spec.site != site.id:
        ctx.bad(("site",), f"this rule file is for site '{spec.site}', the site file is "
                           f"'{site.id}'")
    policy = _policy(ctx)
    ctx.build_units(policy.exemptions)
    ctx.build_groups()
    calendar = _calendar(ctx)
    slot_rules = slots.schedules(ctx, policy) + slots.sweeps(ctx)
    slots.overlaps(ctx, slot_rules)
    slots.sweeps_shadowing(ctx, slot_rules)
    tariff = precool.tariff(ctx)
    precool_rules = precool.rules(ctx, tariff, policy)
    starts = feedback.optimal_start(ctx, policy)
    guards = feedback.comfort_guard(ctx)
    occupancy = _occupancy(ctx)
    windows = _windows(ctx)
    demand = _demand(ctx)
    outdoor = _sensors(ctx)
    charging = _charging(ctx)
    if ctx.problems:
        ctx.problems.sort(key=lambda p: (p.file != doc.path, p.line or 0))
        raise ConfigError(ctx.problems)
    e, o, pr, sf = spec.engine, spec.overrides, spec.protection, spec.safety
    return RuleSet(
        path=str(path), site_id=site.id, tz=site.tz, units=ctx.units, groups=ctx.groups,
        calendar=calendar, tariff=tariff, slot_rules=slot_rules, precool=precool_rules,
        occupancy=occupancy, window=windows, demand=demand, optimal_start=starts,
        comfort_guard=guards, charging=charging,
        protection=ProtectionConfig(pr.min_on_s, pr.min_off_s, pr.max_starts_per_hour,
                                    pr.changeover_delay_s, pr.restart_stagger_s,
                                    pr.comms_lost_s),
        safety=SafetyConfig(sf.kill_switch, sf.stale_after_s),
        overrides=OverrideConfig(o.default_min * 60, o.max_min * 60, o.end_at_next_slot),
        engine=EngineConfig(e.tick_s, e.max_attempts, e.retry_after_alarm_min * 60,
                            e.write_ttl_s),
        policy=policy, outdoor=outdoor, files=tuple(ctx.files),
        digest=digest(doc.data))


def _tidy(problem: Problem) -> Problem:
    msg = problem.message.removeprefix("Value error, ")
    return Problem(problem.file, problem.line, problem.field, msg)


def _policy(ctx: Context) -> PolicyConfig:
    p = ctx.spec.policy
    zones = sorted({d.config.tags["zone"] for d in ctx.site.devices.values()
                    if "zone" in d.config.tags})
    exemptions: dict[str, str] = {}
    for i, ex in enumerate(p.exemptions):
        for j, zone in enumerate(ex.zone):
            loc: Loc = ("policy", "exemptions", i, "zone")
            if len(ex.zone) > 1:
                loc = (*loc, j)
            if zone not in zones:
                ctx.bad(loc, f"no device has zone '{zone}'{suggest(zone, zones)}")
            elif zone in exemptions:
                ctx.bad(loc, f"zone '{zone}' is exempted twice")
            exemptions[zone] = ex.reason
    if p.heating_max_c >= p.cooling_min_c:
        ctx.bad(("policy", "heating_max_c"),
                f"heating ceiling {p.heating_max_c:g} °C must be below the cooling floor "
                f"{p.cooling_min_c:g} °C")
    return PolicyConfig(p.cooling_min_c, p.heating_max_c, p.cooling_months, exemptions)


def _calendar(ctx: Context) -> SiteCalendar:
    c = ctx.spec.calendar
    closures = []
    for i, cl in enumerate(c.closures):
        at: Loc = ("calendar", "closures", i)
        end = cl.to or cl.from_
        if end < cl.from_:
            ctx.bad((*at, "to"), f"ends ({end}) before it starts ({cl.from_})")
        closures.append(Closure(cl.from_, end, cl.reason,
                                ctx.group_names(cl.group, (*at, "group"))))
    open_days = [OpenDay(o.date, o.reason,
                         ctx.group_names(o.group, ("calendar", "open_days", i, "group")))
                 for i, o in enumerate(c.open_days)]
    years = []
    for year, oy in c.official_years.items():
        for key in ("holidays", "workdays"):
            for j, d in enumerate(getattr(oy, key)):
                if d.year != year:
                    ctx.bad(("calendar", "official_years", str(year), key, j),
                            f"{d} is not in {year}")
        years.append(OfficialYear(year, frozenset(oy.holidays), frozenset(oy.workdays),
                                  oy.source))
    scoped = [c.groups for c in closures] + [o.groups for o in open_days]
    cal_groups = frozenset(g for gs in scoped if gs for g in gs)
    for uid, u in list(ctx.units.items()):
        ctx.units[uid] = dataclasses.replace(u, cal_groups=u.groups & cal_groups)
    return SiteCalendar(c.country, closures, open_days, years, c.outside_coverage,
                        c.warn_days_ahead)


def _occupancy(ctx: Context) -> list[OccupancyRule]:
    out = []
    for name, o in ctx.spec.occupancy.items():
        at: Loc = ("occupancy", name)
        units = ctx.scope(o.group, o.except_, at)
        if units and not any(ctx.units[u].has_occupancy for u in units):
            ctx.bad((*at, "group"), "no unit of this scope reports 'occupied' (its "
                    "profile has no occupancy point): the rule would never act")
        out.append(OccupancyRule(
            id=f"occupancy:{name}", name=name, units=units, priority=o.priority,
            line=ctx.doc.line_of(at), vacant_s=o.vacant_min * 60, occupied_s=o.occupied_s,
            action=o.action, relax_k=o.relax_k))
    return out


def _windows(ctx: Context) -> list[WindowRule]:
    out = []
    for name, w in ctx.spec.windows.items():
        at: Loc = ("windows", name)
        units = ctx.scope(w.group, w.except_, at)
        if units and not any(ctx.units[u].has_window for u in units):
            ctx.bad((*at, "group"), "no unit of this scope reports 'window_open' (its "
                    "profile has no window contact): the rule would never act")
        if w.action == "fan":
            lacking = [u for u in units if MODE_CODES["fan"] not in ctx.units[u].modes]
            if lacking:
                ctx.bad((*at, "action"), f"{unit_list(lacking)} cannot be set to fan mode")
        out.append(WindowRule(
            id=f"window:{name}", name=name, units=units, priority=w.priority,
            line=ctx.doc.line_of(at), open_delay_s=w.open_delay_s,
            close_delay_s=w.close_delay_s, action=w.action))
    return out


def _demand(ctx: Context) -> DemandConfig | None:
    d = ctx.spec.demand
    if d is None:
        return None
    at: Loc = ("demand",)
    meter = ctx.site.devices.get(d.meter)
    if meter is None:
        meters = [i for i, x in ctx.site.devices.items() if x.profile.kind == "meter"]
        ctx.bad((*at, "meter"), f"no device '{d.meter}'{suggest(d.meter, meters)}")
    elif meter.profile.kind != "meter":
        what = "an AC unit" if meter.profile.kind == "hvac" else f"a {meter.profile.kind} meter"
        ctx.bad((*at, "meter"), f"'{d.meter}' is {what}, not an electricity meter")
    elif d.point not in meter.profile.points:
        ctx.bad((*at, "point"), f"{meter.profile.id} has no point '{d.point}'"
                f"{suggest(d.point, list(meter.profile.points))}")
    if d.deadband_kw >= d.limit_kw:
        ctx.bad((*at, "deadband_kw"), "must be smaller than limit_kw")
    if any(b <= a for a, b in zip(d.relief_k, d.relief_k[1:], strict=False)):
        ctx.bad((*at, "relief_k"), "relief levels must grow: e.g. [1, 2]")
    if not d.relief_k and not d.allow_off:
        ctx.bad((*at, "allow_off"), "with no relief levels and allow_off false, demand "
                "control can do nothing")
    classes: dict[str, tuple[int, int]] = {}  # unit → (scope, class)
    for i, sc in enumerate(d.shed):
        units = ctx.scope(sc.group, sc.except_, (*at, "shed", i))
        for u in units:
            prev = classes.get(u)
            key = (len(units), sc.class_)
            if prev is None or key < prev:
                classes[u] = key
    act = d.active
    return DemandConfig(
        meter=d.meter, point=d.point, limit_kw=d.limit_kw, deadband_kw=d.deadband_kw,
        window_s=d.window_min * 60.0, offset_s=d.window_offset_min * 60.0,
        confirm_s=d.confirm_s, pass_interval_s=d.pass_interval_s,
        max_units_per_pass=d.max_units_per_pass, curtail_min_s=d.curtail_s,
        release_interval_s=d.release_interval_s, release_units=d.release_units,
        relief_k=tuple(d.relief_k), allow_off=d.allow_off,
        futility_min_drop_kw=d.futility.min_drop_kw, futility_passes=d.futility.passes,
        release_estimate_kw=d.release_estimate_kw, meter_stale_s=d.meter_stale_s,
        classes={u: c for u, (_, c) in classes.items()},
        active_from=act.from_ if act else None, active_to=act.to if act else None,
        active_days=(frozenset(DayType(x) for x in act.day_types)
                     if act and act.day_types else None),
        line=ctx.doc.line_of(at))


def _sensors(ctx: Context) -> SensorRef | None:
    s = ctx.spec.sensors.outdoor_temp
    if s is None:
        return None
    at: Loc = ("sensors", "outdoor_temp")
    dev = ctx.site.devices.get(s.device)
    if dev is None:
        ctx.bad((*at, "device"), f"no device '{s.device}'"
                f"{suggest(s.device, list(ctx.site.devices))}")
    elif s.point not in dev.profile.points:
        ctx.bad((*at, "point"), f"{dev.profile.id} has no point '{s.point}'"
                f"{suggest(s.point, list(dev.profile.points))}")
    return SensorRef(s.device, s.point, s.stale_s)


def _charging(ctx: Context) -> ChargingRules | None:
    """The car park's rules; every charger a departure names must be in the site file."""
    spec = ctx.spec.charging
    if spec is None:
        return None
    site = ctx.site.spec.charging
    declared = list(site.chargers) if site is not None else []
    for name, cid in unknown_chargers(spec, declared):
        ctx.bad(("charging", "departures", name, "chargers"),
                f"no charger '{cid}' in the site file's charging.chargers"
                f"{suggest(cid, declared)}")
    return compile_charging(spec)
