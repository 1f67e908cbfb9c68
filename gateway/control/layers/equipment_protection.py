"""Pure: layer 2, equipment protection — defers a switch that would break the minimum on/off
time, the starts-per-hour cap or the restart stagger, and holds a cool↔heat change (with
the unit off) for the changeover delay (docs/rules.md "Equipment protection"; the
deferral rules are ``control.protection``'s)."""

from __future__ import annotations

from gateway.control.protection import changeover_deferral, power_deferral, stagger_s
from gateway.control.ruleset import MODE, POWER, PROTECTION, UnitInfo
from gateway.control.state import Ctx, Proposal, UnitState

CHANGEOVER = "protection:changeover"


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    current = proposal.current
    mode = proposal.value(MODE)
    if mode is not None and current[MODE] is not None and mode != current[MODE]:
        why = changeover_deferral(ctx.rules.protection, state.hist, int(mode), ctx.now,
                                  ctx.rules.tz)
        if why is not None:
            proposal.say(PROTECTION, CHANGEOVER, MODE, None, why, "deferred")
            if current[POWER] == 1:
                proposal.say(PROTECTION, CHANGEOVER, POWER, 0,
                             f"off while the mode change waits: {why}")
                state.changeover_off = True
            elif proposal.value(POWER) == 1:
                proposal.say(PROTECTION, CHANGEOVER, POWER, None, why, "deferred")
        elif state.changeover_off and proposal.value(POWER) is None and current[POWER] == 0:
            proposal.say(PROTECTION, CHANGEOVER, POWER, 1,
                         "changeover delay over: back on in the new mode")
    if state.changeover_off:
        decider = proposal.who[POWER]
        mine = decider is not None and decider.rule == CHANGEOVER
        if not mine and (current[POWER] == 1 or proposal.value(POWER) is not None):
            state.changeover_off = False  # on again, or another layer decides the power now
    power = proposal.value(POWER)
    if power is not None and current[POWER] is not None and power != current[POWER]:
        why = power_deferral(ctx.rules.protection, state.hist, int(power), ctx.now, ctx.rules.tz)
        if why is not None:
            proposal.say(PROTECTION, "protection", POWER, None, why, "deferred")


def stagger_starts(unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    """The unit's readings are fresh again (start-up, communications back): its first start
    waits a stagger, so that a floor of units does not start at once."""
    state.hist.hold_starts_until = ctx.now + stagger_s(unit.id, ctx.now,
                                                       ctx.rules.protection.restart_stagger_s)
