"""Schedules and after-hours sweeps: steps by day type, checked against what each unit can do.

Two slot rules that share units, days, scope and priority but set modes no
tie-breaker can order (cool / heat / auto) are refused at load time.
"""

from __future__ import annotations

from gateway.control.rules.context import MODE_NAMES, Context, digest, unit_list
from gateway.control.rules.schema import DAY_KEYS
from gateway.control.ruleset import MODE, POWER, Condition, Entry, PolicyConfig, SlotRule
from gateway.core.calendar import DAY_TYPES, DayType
from gateway.core.semantics import MODE_CODES
from gateway.core.sourcefile import Loc

#: where a day type takes its steps from when its own key is absent
FALLBACK: dict[DayType, tuple[str, ...]] = {
    DayType.WORKDAY: ("workday", "every_day"),
    DayType.MAKEUP_WORKDAY: ("makeup_workday", "workday", "every_day"),
    DayType.WEEKEND: ("weekend", "off_day", "every_day"),
    DayType.HOLIDAY: ("holiday", "off_day", "every_day"),
    DayType.CLOSURE: ("closure", "off_day", "every_day"),
}


def schedules(ctx: Context, policy: PolicyConfig) -> list[SlotRule]:
    out = []
    raw_all = ctx.doc.data.get("schedules", {}) if isinstance(ctx.doc.data, dict) else {}
    for name, s in ctx.spec.schedules.items():
        at: Loc = ("schedules", name)
        units = ctx.scope(s.group, s.except_, at)
        if s.valid_from and s.valid_to and s.valid_to < s.valid_from:
            ctx.bad((*at, "valid_to"), "ends before valid_from")
        given = [k for k in DAY_KEYS if getattr(s, k) is not None]
        if not given:
            ctx.bad(at, "no steps: give workday, weekend, holiday, makeup_workday, "
                    "closure, off_day or every_day")
        all_modes = {e.mode for k in given for e in getattr(s, k) if e.mode is not None}
        compiled: dict[str, tuple[Entry, ...]] = {}
        for key in given:
            entries: list[Entry] = []
            mode_now: int | None = None
            for i, e in enumerate(getattr(s, key)):
                loc = (*at, key, i)
                if entries and e.at <= entries[-1].minute:
                    ctx.bad((*loc, "at"), f"{e.at // 60:02d}:{e.at % 60:02d} is not after "
                            f"the step before ({entries[-1].hhmm}); steps go in time order")
                if e.mode is not None:
                    mode_now = e.mode
                in_force = [mode_now] if mode_now is not None else sorted(all_modes)
                if units:
                    ctx.check_values(units, loc, e.mode, in_force, e.setpoint_c, e.fan,
                                     policy, e.power)
                entries.append(Entry(e.at, (e.power, e.mode, e.setpoint_c, e.fan), i,
                                     ctx.doc.line_of(loc), e.note))
            compiled[key] = tuple(entries)
        days = {dt: compiled[k] for dt in DAY_TYPES
                for k in [next((k for k in FALLBACK[dt] if k in compiled), None)]
                if k is not None}
        when = None
        if s.when is not None:
            when = Condition(s.when.outdoor_above_c, s.when.outdoor_below_c,
                             s.when.if_unknown == "active")
        out.append(SlotRule(
            id=f"schedule:{name}", name=name, units=units, priority=s.priority,
            line=ctx.doc.line_of(at), kind="schedule", hold_always=s.hold == "always",
            months=s.months, valid_from=s.valid_from, valid_to=s.valid_to, when=when,
            days=days, digest=digest(raw_all.get(name))))
    return out


def sweeps(ctx: Context) -> list[SlotRule]:
    out = []
    raw_all = ctx.doc.data.get("sweeps", {}) if isinstance(ctx.doc.data, dict) else {}
    for name, s in ctx.spec.sweeps.items():
        at: Loc = ("sweeps", name)
        units = ctx.scope(s.group, s.except_, at)
        times = sorted(set(s.at))
        if len(times) != len(s.at):
            ctx.bad((*at, "at"), "the same time is listed twice")
        lacking = [u for u in units if "power" not in ctx.units[u].writable]
        if lacking:
            ctx.bad((*at, "group"), f"{unit_list(lacking)} has no writable 'power'")
        entries = tuple(Entry(t, (0, None, None, None), i, ctx.doc.line_of((*at, "at")),
                              "after-hours sweep") for i, t in enumerate(times))
        types = DAY_TYPES if s.day_types is None else tuple(DayType(d) for d in s.day_types)
        out.append(SlotRule(
            id=f"sweep:{name}", name=name, units=units, priority=s.priority,
            line=ctx.doc.line_of(at), kind="sweep", months=s.months,
            days={dt: entries for dt in types}, digest=digest(raw_all.get(name))))
    return out


def sweeps_shadowing(ctx: Context, rules: list[SlotRule]) -> None:
    """A sweep that outranks every schedule switching one of its units on: a load-time
    error. A sweep's off stays in force from its last time until its next one (whatever
    the day type: a step is looked up over the days before), so where it does not lose a
    tie — narrower, or as narrow at a priority as high — it outranks the morning's
    switch-on and the unit never comes on (the hospital example's administration floor
    did exactly that)."""
    schedules = [r for r in rules if r.kind == "schedule"]
    for sweep in (r for r in rules if r.kind == "sweep"):
        shadowed: list[str] = []
        beaten: SlotRule | None = None
        for unit in sorted(sweep.units):
            ons = [sched for sched in schedules if unit in sched.units
                   and (sweep.months is None or sched.months is None
                        or bool(sweep.months & sched.months))
                   and any(e.values[POWER] == 1 for steps in sched.days.values()
                           for e in steps)]
            if ons and all((sweep.scope, -sweep.priority) <= (s.scope, -s.priority)
                           for s in ons):
                shadowed.append(unit)
                beaten = beaten or ons[0]
        if beaten is not None:
            ctx.bad(("sweeps", sweep.name),
                    f"outranks schedule '{beaten.name}' (line {beaten.line}) on "
                    f"{unit_list(shadowed)} (scope {sweep.scope} against {beaten.scope} "
                    f"units, priority {sweep.priority} against {beaten.priority}): its off, "
                    "in force until its next time, would win over the switch-on and the "
                    "units would stay off; sweep a wider group (e.g. all, with except:)")


def overlaps(ctx: Context, rules: list[SlotRule]) -> None:
    """Same layer, same scope size and priority, shared units and days, different modes
    that no tie-breaker can order (cool / heat / auto): a load-time error."""
    contested = {MODE_CODES["cool"], MODE_CODES["heat"], MODE_CODES["auto"]}
    for i, a in enumerate(rules):
        for b in rules[i + 1:]:
            shared = a.units & b.units
            if not shared or a.scope != b.scope or a.priority != b.priority:
                continue
            if a.months is not None and b.months is not None and not a.months & b.months:
                continue
            if (a.valid_to and b.valid_from and a.valid_to < b.valid_from) or \
                    (b.valid_to and a.valid_from and b.valid_to < a.valid_from):
                continue
            for dt in DAY_TYPES:
                ma = {e.values[MODE] for e in a.days.get(dt, ())} & contested
                mb = {e.values[MODE] for e in b.days.get(dt, ())} & contested
                if ma and mb and (ma | mb) != (ma & mb):
                    names = "/".join(sorted(MODE_NAMES[int(m)] for m in ma | mb
                                            if m is not None))
                    ctx.bad(("schedules", b.name) if b.kind == "schedule"
                            else ("sweeps", b.name),
                            f"overlaps {a.kind} '{a.name}' (line {a.line}) on "
                            f"{unit_list(shared)} ({dt.value}) with the same scope "
                            f"({a.scope} units) and priority ({a.priority}) but other "
                            f"modes ({names}); nothing can resolve that: give one a "
                            "priority, narrow its group or separate their months")
                    break
