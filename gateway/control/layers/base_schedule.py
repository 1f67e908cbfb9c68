"""Pure: layer 9, the base schedule — schedules and after-hours sweeps (docs/rules.md "Schedules").

A step is applied when it begins (and at start-up); then people may change the
unit locally until the next step, unless its schedule says ``hold: always``.
Among the rules that speak for a point, the narrower scope wins, then the higher
priority, then the more energy-conservative value.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from gateway.control.ruleset import (
    FAN,
    MODE,
    POWER,
    SCHEDULE,
    SETPOINT,
    Entry,
    RuleSet,
    SlotRule,
    UnitInfo,
)
from gateway.control.state import Ctx, Decision, Proposal, SlotPick, UnitState, Value, same
from gateway.core.calendar import DayInfo
from gateway.core.policy import HEATING_MODES
from gateway.core.semantics import FAN_CODES, MODE_CODES

#: how far back a step still holds (the last step that set a point, up to a week ago)
LOOKBACK_DAYS = 7
#: energy-conservative order (lower first) for tie-breaks
MODE_RANK = {MODE_CODES["fan"]: 0, MODE_CODES["dry"]: 1, MODE_CODES["cool"]: 2,
             MODE_CODES["heat"]: 2, MODE_CODES["auto"]: 3}
FAN_RANK = {FAN_CODES["very_low"]: 0, FAN_CODES["low"]: 1, FAN_CODES["auto"]: 2,
            FAN_CODES["medium"]: 3, FAN_CODES["high"]: 4, FAN_CODES["top"]: 5}
ALREADY_APPLIED = "already applied at its step; local changes stand until the next step"

Candidate = tuple[SlotRule, Entry, date, DayInfo]


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    """The step in force for each point, unless it was applied already (``state.marks``)."""
    combo = ctx.rules.slot_by_unit[unit.id]
    if not combo:
        return
    key = (id(combo), unit.cal_groups)
    picks = ctx.slot_picks.get(key)
    if picks is None:
        picks = ctx.slot_picks[key] = _remembered_picks(combo, unit, ctx)
    proposal.picks = picks
    marks = state.marks
    tracing = proposal.trace is not None
    for point, pick in enumerate(picks):
        if pick is None:
            continue
        if pick.rule.hold_always or marks[point] != pick.key:
            proposal.adopt(point, pick.decision)
        elif tracing:
            decision = pick.decision
            proposal.note(SCHEDULE, decision.rule, point, decision.value, decision.reason,
                          ALREADY_APPLIED)


#: remembered picks per rule set; cleared past this many (a few days of minutes)
PICK_MEMORY = 20_000


def _remembered_picks(combo: Sequence[SlotRule], unit: UnitInfo,
                      ctx: Ctx) -> Sequence[SlotPick | None]:
    """``slot_picks``, remembered: they depend only on the schedules, the unit's calendar
    groups, the site-local day, which of the schedules' step minutes have passed and which
    outdoor conditions hold — so a day's ticks, every 10 s in the gateway or every minute
    in a what-if, compute them a handful of times (they were a fifth of a season's time)."""
    memory = ctx.rules.pick_memory
    steps = memory.get((id(combo),))
    if steps is None:  # every minute any of these schedules steps at, on any day type
        steps = memory[(id(combo),)] = tuple(sorted({
            e.minute for r in combo for entries in r.days.values() for e in entries}))
    # between two of those minutes nothing can change: the picks are the segment's
    segment = bisect_right(steps, ctx.minute)
    whens = tuple(r.when.holds(ctx.outdoor) for r in combo if r.when is not None)
    key = (id(combo), unit.cal_groups, ctx.day, segment, whens)
    picks = memory.get(key)
    if picks is None:
        if len(memory) >= PICK_MEMORY:
            memory.clear()
        picks = memory[key] = tuple(slot_picks(combo, unit, ctx))
    return picks


def slot_picks(combo: Sequence[SlotRule], unit: UnitInfo, ctx: Ctx) -> list[SlotPick | None]:
    """Per point, the step in force among the unit's schedules and sweeps, and why."""
    picks: list[SlotPick | None] = [None, None, None, None]
    found: list[list[Candidate]] = [[], [], [], []]
    for rule in combo:
        if rule.when is not None and not rule.when.holds(ctx.outdoor):
            continue
        for point in range(4):
            step = _entry_for(rule, point, unit, ctx)
            if step is not None:
                found[point].append((rule, *step))
    mode: Value | None = None
    for point in (POWER, MODE, SETPOINT, FAN):
        candidates = found[point]
        if not candidates:
            continue
        top = candidates[0][0]
        tied = [c for c in candidates
                if c[0].scope == top.scope and c[0].priority == top.priority]
        choice = _conservative(tied, point, mode) if len(tied) > 1 else candidates[0]
        value = choice[1].values[point]
        assert value is not None
        # credit the rule whose step brought this value most recently (a sweep at 21:00
        # rather than the 18:00 step of a narrower schedule that agrees with it)
        agree = [c for c in candidates if same(point, c[1].values[point], value)]
        credit = max(agree, key=lambda c: (c[2].toordinal(), c[1].minute))
        rule, entry, day, info = credit
        if point == MODE:
            mode = value
        key = tuple((c[0].id, c[0].digest, c[2].toordinal(), c[1].index) for c in candidates)
        when = f"{info.type.value} step {entry.hhmm}" if day == ctx.day else \
            f"{info.type.value} step {entry.hhmm} of {day.isoformat()}"
        reason = f"{rule.kind} '{rule.name}': {when}"
        if entry.note:
            reason += f" ({entry.note})"
        if credit is not choice:
            reason += f"; agrees with {choice[0].kind} '{choice[0].name}'"
        elif len(candidates) > 1:
            others = ", ".join(c[0].name for c in candidates if c is not choice)
            if len(tied) > 1:
                why = "same scope and priority: the more energy-conservative value"
            elif candidates[1][0].scope > top.scope:
                why = "narrower scope"
            else:
                why = "higher priority"
            reason += f"; over {others} ({why})"
        picks[point] = SlotPick(Decision(value, SCHEDULE, rule.id, reason), rule, key,
                                entry)
    return picks


def _conservative(tied: list[Candidate], point: int, mode: Value | None) -> Candidate:
    """Same scope and priority: off before on, the lower-energy mode, the warmer cooling
    (cooler heating, for the mode already picked) setpoint, the lower fan speed."""
    if point == POWER:
        return min(tied, key=lambda c: c[1].values[point] or 0)
    if point == MODE:
        return min(tied, key=lambda c: MODE_RANK.get(int(c[1].values[point] or 0), 9))
    if point == SETPOINT:
        heating = mode in HEATING_MODES
        return min(tied, key=lambda c: (c[1].values[point] or 0.0) if heating
                   else -(c[1].values[point] or 0.0))
    return min(tied, key=lambda c: FAN_RANK.get(int(c[1].values[point] or 0), 9))


def _entry_for(rule: SlotRule, point: int, unit: UnitInfo,
               ctx: Ctx) -> tuple[Entry, date, DayInfo] | None:
    """The step in force for a point: today's last step that sets it, else an earlier day's."""
    calendar = ctx.rules.calendar
    for back in range(LOOKBACK_DAYS + 1):
        day = ctx.day - timedelta(days=back) if back else ctx.day
        if not rule.valid_on(day):
            return None
        info = calendar.day(day, unit.cal_groups)
        entries = rule.days.get(info.type)
        if entries:
            limit = ctx.minute if back == 0 else 1440
            for entry in reversed(entries):
                if entry.minute <= limit and entry.values[point] is not None:
                    return entry, day, info
    return None


def next_step(rules: RuleSet, unit: UnitInfo, after: datetime) -> datetime | None:
    """When the unit's schedule next takes a step (within a week), site-local aware."""
    combo = rules.slot_by_unit.get(unit.id, ())
    local = after.astimezone(rules.tz)
    minute = local.hour * 60 + local.minute
    for ahead in range(LOOKBACK_DAYS + 1):
        day = local.date() + timedelta(days=ahead)
        best: int | None = None
        day_type = rules.calendar.day(day, unit.cal_groups).type
        for rule in combo:
            if rule.kind != "schedule" or not rule.valid_on(day):
                continue
            for entry in rule.days.get(day_type, ()):
                if (ahead > 0 or entry.minute > minute) and (best is None or entry.minute < best):
                    best = entry.minute
        if best is not None:
            start = datetime(day.year, day.month, day.day, tzinfo=rules.tz)
            return start + timedelta(minutes=best)
    return None
