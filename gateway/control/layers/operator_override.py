"""Pure: layer 6, operator override — the values of an MQTT or CLI command hold their points
until it expires (docs/rules.md "Operator overrides"; the book is ``control.overrides``)."""

from __future__ import annotations

from gateway.control.ruleset import OVERRIDE, UnitInfo
from gateway.control.state import Ctx, Proposal, UnitState


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    held_points = ctx.overrides.held.get(unit.id)
    if not held_points:
        return
    for point, held in held_points.items():
        value = next(v for p, v in held.values if p == point)
        proposal.say(OVERRIDE, f"override:{held.id}", point, value, held.describe(ctx.rules.tz))
