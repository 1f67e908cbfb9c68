"""The precedence layers of the control engine, one pure module each (docs/rules.md
"Precedence"). A layer is a function of the proposal so far, the unit, its state and
the tick's context: it may replace what the layers before it said for a point, or act
on it (relief and relax are offsets, clamps bound, protection defers); it does no I/O
and reads no clock. Some keep their own hysteresis in the unit's state (window,
occupancy standby, the changeover's off).

``ORDER`` is the order the engine applies them in, lowest precedence first, so a
higher layer has the last word; ``safety`` (the highest) is asked before any of them:
it leaves a unit alone rather than changing a proposal.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.control.layers import (
    base_schedule,
    comfort_guard,
    demand_limit,
    equipment_protection,
    occupancy_standby,
    off_unit,
    offsets,
    operator_override,
    optimal_start,
    regulatory_clamps,
    safety,
    tariff_optimisation,
    window,
)
from gateway.control.ruleset import (
    DEMAND,
    OCCUPANCY,
    OVERRIDE,
    START,
    TARIFF,
    WINDOW,
    UnitInfo,
)
from gateway.control.state import Ctx, Proposal, UnitState

Layer = Callable[[Proposal, UnitInfo, UnitState, Ctx], None]

#: lowest precedence first (ruleset.LAYER_NAMES reversed, without safety), then the
#: clamps' second pass on the mode and power protection left (regulatory_clamps.limits),
#: then the rule that an off unit gets only its power command
ORDER: tuple[Layer, ...] = (
    base_schedule.apply,
    optimal_start.apply,
    tariff_optimisation.apply,
    comfort_guard.apply,
    occupancy_standby.apply,
    operator_override.apply,
    demand_limit.apply,
    window.apply,
    regulatory_clamps.apply,
    equipment_protection.apply,
    regulatory_clamps.limits,
    off_unit.apply,
)

#: layers that hold a unit away from its schedule: when one lets go of a point (an override
#: expires, a window closes, …) the unit goes back to the schedule's current step
HOLDING = frozenset({WINDOW, DEMAND, OVERRIDE, OCCUPANCY, TARIFF, START})

__all__ = ["HOLDING", "ORDER", "Layer", "base_schedule", "comfort_guard", "demand_limit",
           "equipment_protection", "occupancy_standby", "off_unit", "offsets",
           "operator_override", "optimal_start", "regulatory_clamps", "safety",
           "tariff_optimisation", "window"]
