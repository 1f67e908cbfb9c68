"""Pure: the comfort guard — while a unit runs in its occupied hours, a room drifting out of
the band steps its setpoint towards comfort (heating: up, cooling: down) by ``step_k`` at
most every ``interval_s``, up to ``max_k``, and back once the room is well inside again
(docs/rules.md "Comfort guard"). Above the tariff float and the optimal start, below
occupancy, overrides and the demand limit; the clamps still bound the result.

Not a holding layer: its setpoint stands like a schedule step's until the guard moves it
again or steps back to zero (then the schedule's setpoint is said again). A hold that
ended whenever a unit is briefly off (crossing from cooling to heating) would hand it
back to the schedule's step and start a flap."""

from __future__ import annotations

from gateway.control.ruleset import COMFORT, MODE, POWER, SETPOINT, ComfortGuardRule, UnitInfo
from gateway.control.state import Ctx, Proposal, UnitState
from gateway.core.policy import HEATING_MODES
from gateway.core.semantics import MODE_CODES

COOLING_MODES = frozenset({MODE_CODES["cool"], MODE_CODES["dry"]})


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    rule = next((r for r in ctx.rules.guard_by_unit[unit.id] if _active(r, unit, ctx)), None)
    if rule is None:
        state.guard_k = 0.0
        return
    mode = proposal.final(MODE)
    heating = mode in HEATING_MODES
    if proposal.final(POWER) != 1 or not (heating or mode in COOLING_MODES):
        return  # off or fan for now (a cool↔heat crossing, a sweep): the step is kept
    _step(rule, unit, state, ctx, heating)
    if not state.guard_k:
        return
    base = proposal.value(SETPOINT)
    pick = proposal.picks[SETPOINT] if proposal.picks else None
    if base is None and pick is not None:
        base = pick.decision.value
    if base is None:
        return
    guarded = _within_limits(float(base) + state.guard_k, unit, ctx, heating)
    now = proposal.current[SETPOINT]
    room = f"{state.room:.1f}" if state.room is not None else "?"
    reason = f"comfort guard: room {room} °C, setpoint {state.guard_k:+g} K"
    if now is not None and proposal.value(SETPOINT) is None and \
            (float(now) > guarded if heating else float(now) < guarded):
        # a local change gives more comfort: it stands (said, so the hold stays unbroken)
        proposal.say(COMFORT, rule.id, SETPOINT, float(now), reason + "; local change stands")
        return
    proposal.say(COMFORT, rule.id, SETPOINT, guarded, reason)


def _within_limits(setpoint: float, unit: UnitInfo, ctx: Ctx, heating: bool) -> float:
    """The guard asks for comfort, never past the regulatory limits or the unit's range
    (the clamps would hold them anyway; asking would count as a breach attempt)."""
    policy = ctx.rules.policy
    if unit.exempt is None:
        if heating:
            setpoint = min(setpoint, policy.heating_max_c)
        else:
            setpoint = max(setpoint, policy.cooling_min_c)
    return min(max(setpoint, unit.sp_min), unit.sp_max)


def _active(rule: ComfortGuardRule, unit: UnitInfo, ctx: Ctx) -> bool:
    if rule.months is not None and ctx.month not in rule.months:
        return False
    if not rule.start <= ctx.minute < rule.end:
        return False
    return ctx.rules.calendar.day(ctx.day, unit.cal_groups).type in rule.day_types


def _step(rule: ComfortGuardRule, unit: UnitInfo, state: UnitState, ctx: Ctx,
          heating: bool) -> None:
    room = state.room
    if room is None or ctx.now - state.guard_at < rule.interval_s:
        return
    if ctx.levels.get(unit.id, 0):
        return  # curtailed for the demand limit: the guard waits rather than fight it
    k = state.guard_k
    if heating:
        if room < rule.heating_low_c and k < rule.max_k:
            k = min(rule.max_k, k + rule.step_k)
        elif room > rule.heating_low_c + rule.hysteresis_k and k > 0:
            k = max(0.0, k - rule.step_k)
    else:
        if room > rule.cooling_high_c and k > -rule.max_k:
            k = max(-rule.max_k, k - rule.step_k)
        elif room < rule.cooling_high_c - rule.hysteresis_k and k < 0:
            k = min(0.0, k + rule.step_k)
    if k != state.guard_k:
        if k == 0:
            state.marks[SETPOINT] = None  # back to the schedule's setpoint, said again
        state.guard_k, state.guard_at = k, ctx.now
