"""Pure: the optimal-start layer — each unit of a rule starts warming up (or cooling down)
when its room needs it to be ready at the occupied time, within the rule's concurrency
(docs/rules.md "Optimal start"). The plan (gateway/control/start_plan.py) is made once
per tick for all the rule's units; each unit's state keeps its run and its learned model
(steady rate and first-phase jump)."""

from __future__ import annotations

from gateway.control.ruleset import MODE, POWER, SETPOINT, START, OptimalStartRule, UnitInfo
from gateway.control.start_plan import JUMP_H, Learned, StartPlan, Zone, learned, plan
from gateway.control.state import Ctx, Proposal, UnitState
from gateway.core.policy import HEATING_MODES
from gateway.core.semantics import MODE_CODES


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    for rule in ctx.rules.start_by_unit[unit.id]:
        if not _active(rule, unit, ctx):
            _close(rule, state, ctx)
            continue
        starts = rule_plan(rule, ctx)
        if state.warm_day != ctx.day:
            state.warm_day, state.warm_since, state.warm_done = ctx.day, None, False
            state.warm_rule = None
        elif state.warm_since is not None and state.warm_rule != rule.id:
            # a run no active rule owns (its rule was renamed or regrouped by a reload):
            # only one optimal start is active for a unit at a time, so it is this one's
            state.warm_rule = rule.id
        start = starts.starts.get(unit.id)
        if _crossing(rule, proposal):
            # on and running the other way (set so at the remote, or by an override that
            # has ended): crossing cool↔heat is not worth a flap before dawn. Before its
            # run the rule stays out; during it, it holds what the unit has, so the hold
            # does not end and hand the unit back to a stale step (an 23:00 sweep's off)
            if state.warm_since is None:
                if proposal.trace is not None:
                    proposal.note(START, rule.id, MODE, None, "optimal start: the unit "
                                  "runs in the other mode; left as it is")
                return
            why = "optimal start: the unit was set to the other mode; left as it is"
            for point in (POWER, MODE, SETPOINT):
                if proposal.current[point] is not None:
                    proposal.say(START, rule.id, point, proposal.current[point], why)
            return
        if state.warm_since is None:
            if start is None or ctx.minute < start or start >= rule.occupied:
                if proposal.trace is not None:
                    proposal.note(START, rule.id, POWER, None, _waiting(rule, starts, unit))
                return
            state.warm_since, state.warm_from, state.warm_rule = ctx.now, state.room, rule.id
            state.warm_mid = None
        ran_h = (ctx.now - state.warm_since) / 3600
        if state.warm_mid is None and ran_h >= JUMP_H and state.room is not None:
            state.warm_mid = (ran_h, state.room)
        _learn_on_arrival(rule, state, ctx)
        reason = _running(rule, starts, unit, state)
        proposal.say(START, rule.id, POWER, 1, reason)
        proposal.say(START, rule.id, MODE, rule.mode_code, reason)
        proposal.say(START, rule.id, SETPOINT, rule.setpoint_c, reason)
        return


def rule_plan(rule: OptimalStartRule, ctx: Ctx) -> StartPlan:
    """This tick's plan for the rule (made once, shared by its units)."""
    cached = ctx.starts.get(rule.id)
    if cached is not None:
        return cached
    zones = []
    for uid in sorted(rule.units):
        st = ctx.states.get(uid)
        if st is None:
            continue
        started = st.warm_day == ctx.day and st.warm_since is not None and \
            not st.warm_done and st.warm_rule == rule.id
        jump_k = st.warm_jump if rule.heating else st.cool_jump
        jump_h = JUMP_H
        if started and st.warm_since is not None:  # part of the first phase is behind it
            jump_h = max(0.0, JUMP_H - (ctx.now - st.warm_since) / 3600)
            jump_k *= jump_h / JUMP_H
        zones.append(Zone(uid, st.room, _rate(rule, st), started, jump_k, jump_h))
    made = plan(zones, now_min=ctx.minute, earliest_min=rule.earliest,
                occupied_min=rule.occupied, reach_c=rule.reach_c, heating=rule.heating,
                margin_min=rule.margin_min, max_concurrent=rule.max_concurrent)
    ctx.starts[rule.id] = made
    return made


def _crossing(rule: OptimalStartRule, proposal: Proposal) -> bool:
    """The unit is on in a mode of the other family (cooling vs heating)."""
    if proposal.current[POWER] != 1:
        return False
    mode = proposal.current[MODE]
    return mode is not None and (mode in HEATING_MODES) != rule.heating \
        and mode != MODE_CODES["fan"]


def _active(rule: OptimalStartRule, unit: UnitInfo, ctx: Ctx) -> bool:
    if rule.months is not None and ctx.month not in rule.months:
        return False
    if not rule.earliest <= ctx.minute < rule.occupied:
        return False
    return ctx.rules.calendar.day(ctx.day, unit.cal_groups).type in rule.day_types


def _reached(rule: OptimalStartRule, room: float | None) -> bool:
    if room is None:
        return False
    return room >= rule.reach_c if rule.heating else room <= rule.reach_c


def _learn_on_arrival(rule: OptimalStartRule, state: UnitState, ctx: Ctx) -> None:
    if state.warm_done or not _reached(rule, state.room):
        return
    state.warm_done = True
    _learn(rule, state, ctx)


def _close(rule: OptimalStartRule, state: UnitState, ctx: Ctx) -> None:
    """Outside the span: a run that did not arrive teaches its (too slow) rate too. Only
    the rule's own run: a unit's other rules (the cooling one in winter, the weekend's on a
    working day) stand idle while one of them runs."""
    if state.warm_since is None or state.warm_rule != rule.id:
        return
    if not state.warm_done:
        _learn(rule, state, ctx)
    state.warm_since, state.warm_done, state.warm_rule = None, False, None


def _learn(rule: OptimalStartRule, state: UnitState, ctx: Ctx) -> None:
    if state.warm_since is None or state.warm_from is None or state.room is None:
        return
    old = Learned(_rate(rule, state), state.warm_jump if rule.heating else state.cool_jump)
    new = learned(old, state.warm_from, state.warm_mid, state.room,
                  (ctx.now - state.warm_since) / 3600, rule.heating)
    if new is None:
        return
    if rule.heating:
        state.warm_rate, state.warm_jump = new.rate_k_per_h, new.jump_k
    else:
        state.cool_rate, state.cool_jump = new.rate_k_per_h, new.jump_k


def _rate(rule: OptimalStartRule, state: UnitState) -> float:
    """The unit's learned rate for the rule's direction (a warm-up's is not a cool-down's),
    or the rule's first guess."""
    learned = state.warm_rate if rule.heating else state.cool_rate
    return learned or rule.rate_k_per_h


def _hhmm(minute: float) -> str:
    m = max(0, int(minute))
    return f"{m // 60:02d}:{m % 60:02d}"


def _room(unit: UnitInfo, state: UnitState | None) -> str:
    room = state.room if state is not None else None
    return "room temperature unknown" if room is None else f"room {room:.1f} °C"


def _running(rule: OptimalStartRule, starts: StartPlan, unit: UnitInfo,
             state: UnitState) -> str:
    what = "warm-up" if rule.heating else "cool-down"
    if state.warm_done:
        return f"optimal start: {what} done ({_room(unit, state)}), holding " \
               f"{rule.setpoint_c:g} °C until {_hhmm(rule.occupied)}"
    late = starts.late.get(unit.id)
    tail = f"; late: {late:.1f} K short at {_hhmm(rule.occupied)}" if late else ""
    return (f"optimal start: {what} to {rule.reach_c:g} °C by {_hhmm(rule.occupied)} "
            f"({_room(unit, state)}, {_rate(rule, state):.1f} K/h)" + tail)


def _waiting(rule: OptimalStartRule, starts: StartPlan, unit: UnitInfo) -> str:
    start = starts.starts.get(unit.id)
    if start is None or start >= rule.occupied:
        return f"optimal start: ready for {_hhmm(rule.occupied)}, nothing to do"
    return f"optimal start: starts at {_hhmm(start)} " \
           f"(needs {starts.need_h.get(unit.id, 0.0):.1f} h to reach {rule.reach_c:g} °C)"
