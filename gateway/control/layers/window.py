"""Pure: layer 4, window — a window open for ``open_delay_s`` switches the unit off (or to
fan only) until it is closed for ``close_delay_s`` (docs/rules.md "Window and
occupancy"). The unit's state keeps the hysteresis."""

from __future__ import annotations

from gateway.control.ruleset import MODE, POWER, WINDOW, UnitInfo
from gateway.control.state import Ctx, Proposal, UnitState
from gateway.core.semantics import MODE_CODES

FAN_ONLY = MODE_CODES["fan"]


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    rules = ctx.rules.window_by_unit[unit.id]
    if not rules:
        return
    rule = rules[0]
    if state.win_active:
        if state.win_closed_since is not None and \
                ctx.now - state.win_closed_since >= rule.close_delay_s:
            state.win_active = False
    elif state.win_open_since is not None and ctx.now - state.win_open_since >= rule.open_delay_s:
        state.win_active = True
    if not state.win_active:
        return
    if rule.action == "off":
        proposal.say(WINDOW, rule.id, POWER, 0, "window open: unit off")
    else:
        proposal.say(WINDOW, rule.id, MODE, FAN_ONLY, "window open: fan only")
