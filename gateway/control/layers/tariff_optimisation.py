"""Pure: layer 8, tariff optimisation — pre-cooling in the cheap window, then the peak float
(docs/rules.md "Pre-cooling and the peak float"). The first of the unit's rules that is
active decides."""

from __future__ import annotations

from gateway.control.ruleset import POWER, SETPOINT, TARIFF, PrecoolRule, UnitInfo
from gateway.control.state import Ctx, Decision, Proposal, UnitState


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    for rule in ctx.rules.precool_by_unit[unit.id]:
        key = (id(rule), unit.cal_groups)
        if key in ctx.precool:
            active = ctx.precool[key]
        else:
            active = ctx.precool[key] = _active(rule, unit, ctx)
        if active is None:
            if proposal.trace is not None:
                proposal.note(TARIFF, rule.id, SETPOINT, None, _idle(rule, unit, ctx))
            continue
        power, setpoint = active
        if power is not None:
            proposal.adopt(POWER, power)
        if setpoint is not None:
            proposal.adopt(SETPOINT, setpoint)
        return


def _active(rule: PrecoolRule, unit: UnitInfo,
            ctx: Ctx) -> tuple[Decision | None, Decision | None] | None:
    """What the rule decides now for (power, setpoint), or None when it is idle."""
    if rule.months is not None and ctx.month not in rule.months:
        return None
    if ctx.rules.calendar.day(ctx.day, unit.cal_groups).type not in rule.day_types:
        return None
    if rule.min_outdoor_c is not None:
        if ctx.outdoor is None:
            if not rule.outdoor_unknown_runs:
                return None
        elif ctx.outdoor < rule.min_outdoor_c:
            return None
    out = f", outdoor {ctx.outdoor:g} °C" if ctx.outdoor is not None else ""
    if rule.start <= ctx.minute < rule.end and rule.setpoint_c is not None:
        reason = f"pre-cooling in the {ctx.period or 'cheap'} period " \
                 f"{_mm(rule.start)}-{_mm(rule.end)} to {rule.setpoint_c:g} °C{out}"
        power = Decision(1, TARIFF, rule.id, reason) if rule.switch_on else None
        return power, Decision(rule.setpoint_c, TARIFF, rule.id, reason)
    if rule.peak_setpoint_c is not None and ctx.period in ("peak", "sharp") \
            and ctx.minute >= rule.end:
        reason = f"{ctx.period} tariff period: float to {rule.peak_setpoint_c:g} °C after " \
                 f"pre-cooling{out}"
        return None, Decision(rule.peak_setpoint_c, TARIFF, rule.id, reason)
    return None


def _idle(rule: PrecoolRule, unit: UnitInfo, ctx: Ctx) -> str:
    """Why the rule says nothing now (for explanations)."""
    if rule.months is not None and ctx.month not in rule.months:
        return "not in its months"
    day_type = ctx.rules.calendar.day(ctx.day, unit.cal_groups).type
    if day_type not in rule.day_types:
        return f"not on a {day_type.value}"
    if rule.min_outdoor_c is not None:
        if ctx.outdoor is None and not rule.outdoor_unknown_runs:
            return "skipped: outdoor temperature unknown"
        if ctx.outdoor is not None and ctx.outdoor < rule.min_outdoor_c:
            return f"skipped: mild day (outdoor {ctx.outdoor:g} < {rule.min_outdoor_c:g} °C)"
    return f"outside its window {_mm(rule.start)}-{_mm(rule.end)} and not in a peak"


def _mm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
