"""Pure: layer 5, the demand limit — a unit demand control shed gets setpoint relief by its
level, then off (docs/rules.md "Demand limit"). The levels come from the engine's
``DemandController``, through the tick's context."""

from __future__ import annotations

from gateway.control.layers.offsets import offset
from gateway.control.ruleset import DEMAND, POWER, SETPOINT, UnitInfo
from gateway.control.state import Ctx, Proposal, UnitState


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    level = ctx.levels.get(unit.id, 0)
    if not level:
        return
    cfg = ctx.rules.demand
    assert cfg is not None
    shed = level > len(cfg.relief_k)
    if shed:
        proposal.say(DEMAND, "demand", POWER, 0,
                     f"demand limit {cfg.limit_kw:g} kW: shed (level {level}, off)")
        if not cfg.relief_k:
            return
    # a shed unit keeps the deepest relief: protection may hold its switch-off a while,
    # and a hold that ended there would hand the setpoint back to the schedule meanwhile
    relieved = offset(proposal, state, cfg.relief_k[min(level, len(cfg.relief_k)) - 1])
    if relieved is not None:
        setpoint, delta = relieved
        # within what the unit accepts: relief past its range is no relief, only a clamp
        setpoint = min(max(setpoint, unit.sp_min), unit.sp_max)
        proposal.say(DEMAND, "demand", SETPOINT, setpoint,
                     f"demand limit {cfg.limit_kw:g} kW: setpoint relief {delta:+g} K "
                     f"(level {level}{', off' if shed else ''})")
