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
    picks = proposal.picks
    for point in (MODE, SETPOINT, FAN):
        decision = proposal.who[point]
        if decision is None or decision.value is None:
            continue
        if decision.layer == SCHEDULE and picks and (pick := picks[point]) is not None \
                and pick.entry is not None and pick.entry.values[POWER] == 0 \
                and pick.decision.value == decision.value:
            continue  # the step leaves the unit set so, off
        proposal.note(decision.layer, decision.rule, point, decision.value, NOT_SENT,
                      "suppressed")
        proposal.who[point] = Decision(None, decision.layer, decision.rule, decision.reason)
