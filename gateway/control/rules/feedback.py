"""Optimal start and the comfort guard: rules that act on the measured room temperature,
so comfort holds on days nobody tuned the schedule for (docs/rules.md "Optimal start",
"Comfort guard")."""

from __future__ import annotations

from gateway.control.rules.context import Context
from gateway.control.ruleset import ComfortGuardRule, OptimalStartRule, PolicyConfig
from gateway.core.calendar import DayType
from gateway.core.semantics import MODE_CODES
from gateway.core.sourcefile import Loc


def optimal_start(ctx: Context, policy: PolicyConfig) -> list[OptimalStartRule]:
    out = []
    for name, p in ctx.spec.optimal_start.items():
        at: Loc = ("optimal_start", name)
        units = ctx.scope(p.group, p.except_, at)
        heating = p.mode == "heat"
        code = MODE_CODES[p.mode]
        if p.occupied <= p.earliest:
            ctx.bad((*at, "occupied"), "is not after earliest: the span runs from earliest "
                                       "to occupied on the same day")
        if heating and p.reach_c > p.setpoint_c:
            ctx.bad((*at, "reach_c"), f"{p.reach_c:g} °C is above setpoint_c "
                                      f"{p.setpoint_c:g} °C: a unit set lower never gets there")
        if not heating and p.reach_c < p.setpoint_c:
            ctx.bad((*at, "reach_c"), f"{p.reach_c:g} °C is below setpoint_c "
                                      f"{p.setpoint_c:g} °C: a unit set higher never gets there")
        if units:
            ctx.check_values(units, at, code, [code], p.setpoint_c, None, policy)
        out.append(OptimalStartRule(
            id=f"start:{name}", name=name, units=units, priority=p.priority,
            line=ctx.doc.line_of(at), heating=heating, months=p.months,
            day_types=frozenset(DayType(d) for d in p.day_types), earliest=p.earliest,
            occupied=p.occupied, setpoint_c=p.setpoint_c, reach_c=p.reach_c,
            rate_k_per_h=p.rate_k_per_h, margin_min=p.margin_min,
            max_concurrent=p.max_concurrent, mode_code=code))
    _one_per_unit(ctx, "optimal_start", out)
    return out


def comfort_guard(ctx: Context) -> list[ComfortGuardRule]:
    out = []
    for name, p in ctx.spec.comfort_guard.items():
        at: Loc = ("comfort_guard", name)
        units = ctx.scope(p.group, p.except_, at)
        if p.active.to <= p.active.from_:
            ctx.bad((*at, "active", "to"), "ends before it starts")
        out.append(ComfortGuardRule(
            id=f"guard:{name}", name=name, units=units, priority=p.priority,
            line=ctx.doc.line_of(at), months=p.months,
            day_types=frozenset(DayType(d) for d in p.day_types), start=p.active.from_,
            end=p.active.to, cooling_high_c=p.cooling_high_c, heating_low_c=p.heating_low_c,
            step_k=p.step_k, max_k=p.max_k, interval_s=p.interval_min * 60,
            hysteresis_k=p.hysteresis_k))
    return out


def _one_per_unit(ctx: Context, section: str, rules: list[OptimalStartRule]) -> None:
    """Two optimal-start rules over one unit in one month would plan it twice."""
    for i, a in enumerate(rules):
        for b in rules[i + 1:]:
            shared = a.units & b.units
            months = (a.months or frozenset(range(1, 13))) & (b.months or frozenset(range(1, 13)))
            if shared and months and a.day_types & b.day_types:
                ctx.bad((section, b.name), f"covers {len(shared)} unit(s) of '{a.name}' in "
                        f"month(s) {sorted(months)}: one optimal start per unit and month")
