"""Pure: layer 3, the regulatory clamps and the unit's own limits (docs/rules.md "Regulatory
limits"). For the mode the unit will run in, the setpoint stays at or above the cooling
floor and at or below the heating ceiling unless the zone is exempt, and auto becomes cool
or heat for the season; whatever any layer asked (the wall remote too), a setpoint stays
in the unit's range and a mode or fan speed the unit lacks is not sent.

Two passes: ``apply`` (in the layer's place) replaces auto and keeps to the unit's range;
``limits`` runs after equipment protection, because only then is it known which mode and
power the unit will actually have after this tick — protection may hold a cool→heat change
back while the heating schedule's 20 °C is already proposed, and a unit left cooling must
not be given it."""

from __future__ import annotations

from gateway.control.ruleset import CLAMP, FAN, MODE, POWER, SETPOINT, UnitInfo
from gateway.control.state import Ctx, Proposal, UnitState, fmt
from gateway.core.policy import COOLING_MODES, HEATING_MODES
from gateway.core.semantics import MODE_CODES

AUTO = MODE_CODES["auto"]
COOL = MODE_CODES["cool"]
HEAT = MODE_CODES["heat"]


def apply(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    if unit.exempt is None and proposal.final(POWER) == 1:
        _no_auto(proposal, ctx)
    who = proposal.who
    asked = who[SETPOINT]
    if asked is not None and asked.value is not None \
            and not unit.sp_min <= asked.value <= unit.sp_max:
        setpoint = float(asked.value)
        bounded = min(max(setpoint, unit.sp_min), unit.sp_max)
        proposal.say(CLAMP, "clamp:device-range", SETPOINT, bounded,
                     f"{setpoint:g} °C is outside the unit's range "
                     f"{unit.sp_min:g}-{unit.sp_max:g} °C: {bounded:g} °C")
    mode = who[MODE]
    if mode is not None and mode.value is not None and mode.value not in unit.modes:
        proposal.note(CLAMP, "clamp:device-modes", MODE, None,
                      f"the unit cannot run {fmt(MODE, mode.value)}")
        proposal.drop(MODE)
    fan = who[FAN]
    if fan is not None and fan.value is not None and fan.value not in unit.fans:
        proposal.drop(FAN)


def limits(proposal: Proposal, unit: UnitInfo, state: UnitState, ctx: Ctx) -> None:
    """The floor and the ceiling, for the mode and power the unit will have after this tick
    (after protection), whoever set the setpoint: a layer, an override or the wall remote."""
    if unit.exempt is not None or proposal.final(POWER) != 1:
        return
    _no_auto(proposal, ctx)  # a unit that stays on (protection held its off) in auto
    policy = ctx.rules.policy
    mode, setpoint = proposal.final(MODE), proposal.final(SETPOINT)
    if setpoint is None or mode is None:
        return
    asked = proposal.who[SETPOINT]
    source = asked.rule if asked is not None and asked.value is not None \
        else "the unit's own setting"
    if mode in COOLING_MODES and setpoint < policy.cooling_min_c:  # as strict as the guard
        proposal.say(CLAMP, "clamp:cooling-floor", SETPOINT, policy.cooling_min_c,
                     f"cooling setpoint {float(setpoint):g} °C (from {source}) raised to the "
                     f"{policy.cooling_min_c:g} °C floor")
    elif mode in HEATING_MODES and setpoint > policy.heating_max_c:
        proposal.say(CLAMP, "clamp:heating-ceiling", SETPOINT, policy.heating_max_c,
                     f"heating setpoint {float(setpoint):g} °C (from {source}) lowered to the "
                     f"{policy.heating_max_c:g} °C ceiling")


def _no_auto(proposal: Proposal, ctx: Ctx) -> None:
    """Auto may cool below the floor or heat above the ceiling: cool or heat by season."""
    policy = ctx.rules.policy
    decided = proposal.who[MODE]
    if proposal.final(MODE) == AUTO and (decided is None or decided.rule != "clamp:no-auto"):
        mode = COOL if ctx.month in policy.cooling_months else HEAT
        proposal.say(CLAMP, "clamp:no-auto", MODE, mode, "auto mode may cool below the floor "
                     f"or heat above the ceiling: set to {fmt(MODE, mode)} for the season")
