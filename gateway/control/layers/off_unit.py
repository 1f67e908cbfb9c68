"""Pure: the last step — an off unit gets only its power command; mode, setpoint and fan are
sent with (before) switching on, not to a unit that stays off (docs/rules.md
"Precedence"). The deciders stay, so an explanation still says who holds each point.

Except what a schedule's step names beside ``power: off``: that step says how the unit is
to be left for whoever switches it on at the remote (the demo's winter days off: heat at
18.3 °C, not the night set-back's 16.5 °C)."""

from __future__ import annotations

from gateway.control.ruleset import FAN, MODE, POWER, SCHEDULE, SETPOINT, UnitInfo
from gateway.control.state import Ctx, Decision, Proposal, UnitState

NOT_SENT = "not sent: the unit is (to be) off"


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    if proposal.final(POWER) == 1:
        return
    for point in (MODE, SETPOINT, FAN):
        decision = proposal.who[point]
        if decision is None or decision.value is None:
            continue
        if _left_set(proposal, point, decision):
            continue
        proposal.note(decision.layer, decision.rule, point, decision.value, NOT_SENT,
                      "suppressed")
        proposal.who[point] = Decision(None, decision.layer, decision.rule, decision.reason)


def _left_set(proposal: Proposal, point: int, decision: Decision) -> bool:
    """Does a schedule's step name this value beside ``power: off``? A setpoint only with
    the step's own mode, which the rule file's check held it to the limits of, in force or
    going out with it (not while protection holds a cool↔heat changeover back)."""
    picks = proposal.picks
    pick = picks[point] if picks else None
    if decision.layer != SCHEDULE or pick is None or pick.entry is None \
            or pick.entry.values[POWER] != 0 or pick.decision.value != decision.value:
        return False
    if point != SETPOINT:
        return True
    step_mode = pick.entry.values[MODE]
    mode = proposal.who[MODE]
    after = mode.value if mode is not None and mode.value is not None \
        else proposal.current[MODE]
    return step_mode is not None and after == step_mode
