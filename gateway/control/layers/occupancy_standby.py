"""Pure: layer 7, occupancy standby — a room vacant for ``vacant_s`` has its unit's setpoint
relaxed by ``relax_k`` (or the unit off) until it is occupied for ``occupied_s``
(docs/rules.md "Window and occupancy"). The unit's state keeps the standby hysteresis."""

from __future__ import annotations

import math
from datetime import datetime, tzinfo

from gateway.control.layers.offsets import offset
from gateway.control.ruleset import OCCUPANCY, POWER, SETPOINT, UnitInfo
from gateway.control.state import Ctx, Proposal, UnitState


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    rules = ctx.rules.occupancy_by_unit[unit.id]
    if not rules:
        return
    rule = rules[0]
    if state.standby:
        if state.occ_since is not None and ctx.now - state.occ_since >= rule.occupied_s:
            state.standby = False
    elif state.vac_since is not None and ctx.now - state.vac_since >= rule.vacant_s:
        state.standby = True
    if not state.standby:
        return
    vacant = f"vacant since {_hhmm(state.vac_since, ctx.rules.tz)}" if state.vac_since \
        else "vacant"
    if rule.action == "off":
        proposal.say(OCCUPANCY, rule.id, POWER, 0, f"{vacant}: standby off")
        return
    relaxed = offset(proposal, state, rule.relax_k)
    if relaxed is not None:
        setpoint, delta = relaxed
        proposal.say(OCCUPANCY, rule.id, SETPOINT, setpoint,
                     f"{vacant}: standby, setpoint relaxed {delta:+g} K")


def _hhmm(t: float | None, tz: tzinfo) -> str:
    if t is None or math.isinf(t):
        return "?"
    return datetime.fromtimestamp(t, tz).strftime("%H:%M")
