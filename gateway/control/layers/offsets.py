"""Pure: relief and relax are offsets on what the layers below asked for, or on the setpoint
the unit had when the offset began (its anchor), so a +1 K relief of a 26 °C schedule is
27 °C and stays 27 °C (docs/rules.md "Precedence"). Shared by occupancy standby and the
demand limit."""

from __future__ import annotations

from gateway.control.ruleset import MODE, SETPOINT
from gateway.control.state import Proposal, UnitState
from gateway.core.policy import HEATING_MODES


def offset(proposal: Proposal, state: UnitState, k: float) -> tuple[float, float] | None:
    """(setpoint, signed offset): ``k`` kelvin towards less energy for the mode the unit
    will run in, on the setpoint asked so far or the anchor; None without either."""
    base = proposal.value(SETPOINT)
    if base is None:
        now = proposal.current[SETPOINT]
        if state.anchor is None and now is not None:
            state.anchor = float(now)
        base = state.anchor
    if base is None:
        return None
    proposal.relative = True
    delta = (-1.0 if proposal.final(MODE) in HEATING_MODES else 1.0) * k
    return float(base) + delta, delta


def settle(proposal: Proposal, state: UnitState) -> None:
    """After every layer: without an offset in force the anchor goes, so the next offset
    starts from the setpoint the unit has then."""
    if not proposal.relative:
        state.anchor = None
