"""Pure: the last step — an off unit gets only its power command; mode, setpoint and fan are
sent with (before) switching on, not to a unit that stays off (docs/rules.md
"Precedence"). The deciders stay, so an explanation still says who holds each point."""

from __future__ import annotations

from gateway.control.ruleset import FAN, MODE, POWER, SETPOINT, UnitInfo
from gateway.control.state import Ctx, Decision, Proposal, UnitState

NOT_SENT = "not sent: the unit is (to be) off"


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    if proposal.final(POWER) == 1:
        return
    for point in (MODE, SETPOINT, FAN):
        decision = proposal.who[point]
        if decision is None or decision.value is None:
            continue
        proposal.note(decision.layer, decision.rule, point, decision.value, NOT_SENT,
                      "suppressed")
        proposal.who[point] = Decision(None, decision.layer, decision.rule, decision.reason)
