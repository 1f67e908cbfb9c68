"""Pure: the order of one unit's writes, so that no read-back between two of them shows the
unit outside the setpoint limits.

A unit takes one point per write. Going from "on, cool, 26 °C" to "on, heat, 20 °C"
passes through either "cool at 20 °C" or "heat at 26 °C" whichever point goes first,
and a read-back (or an occupant) can catch the unit there. ``safe_order`` tries the
orders of the changed points and keeps the first whose every intermediate state is
allowed (for a unit found outside them: no worse than it was found); when none is (a
running unit crossing from one limit to the other), the unit is switched off first and
its settings written; protection decides on later ticks when it may start again.
Among safe orders it prefers the engine's habit: settings before switching on, power
first when switching off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import permutations
from typing import TypeVar

from gateway.core.policy import COOLING_MODES, HEATING_MODES, SetpointPolicy
from gateway.core.profile import Value

#: point name → value, for the points of a unit the order cares about
State = Mapping[str, Value | None]
#: why a state breaks the limits, or None
Check = Callable[[State], str | None]

C = TypeVar("C")


def limits_check(policy: SetpointPolicy, zone: str | None) -> Check:
    """The setpoint policy as a ``Check`` for one unit's zone; a state whose mode was
    never read is let through (nothing to judge it by)."""

    def check(state: State) -> str | None:
        mode, setpoint = state.get("mode"), state.get("setpoint_c")
        if mode is None:
            return None
        return policy.violation(zone, int(mode), None if setpoint is None else float(setpoint))

    return check


def violation(check: Check, state: State) -> str | None:
    """Only a running unit can break a limit."""
    if state.get("power") != 1:
        return None
    return check(state)


def worsens(check: Check, before: State, after: State) -> str | None:
    """Why going from ``before`` to ``after`` is not allowed, or None. A unit inside the
    limits must stay inside; one found outside them (an occupant's auto at 24 °C) may stay
    outside on its way out, but not change into another kind of outside (auto → cool at
    20 °C), or the way out of auto would need a power cycle."""
    why = violation(check, after)
    if why is None:
        return None
    if violation(check, before) is not None and after.get("mode") == before.get("mode") \
            and not _further(before, after):
        return None
    return why


def _further(before: State, after: State) -> bool:
    """A setpoint moved deeper past the limit of the mode (down while cooling, up while
    heating): judged by direction, since either mode's limit may be the one broken."""
    old, new = before.get("setpoint_c"), after.get("setpoint_c")
    if not isinstance(old, int | float) or not isinstance(new, int | float) or new == old:
        return False
    mode = after.get("mode")
    if mode in COOLING_MODES:
        return new < old
    if mode in HEATING_MODES:
        return new > old
    return False


def safe_order(current: State, commands: Sequence[C], point_of: Callable[[C], str],
               value_of: Callable[[C], Value], check: Check,
               make_power: Callable[[int], C]) -> list[C]:
    """``commands`` (one per point) in an order whose every step is allowed.

    ``make_power`` builds the extra power command used when no order is safe. The
    final state itself is not judged here (the layers made it lawful); only the
    states on the way to it are.
    """
    preferred = sorted(commands, key=_habit(current, commands, point_of, value_of))
    if len(preferred) <= 1:
        return list(preferred)
    for order in _candidates(preferred):
        if _all_steps_allowed(current, order, point_of, value_of, check):
            return list(order)
    # off first: an off unit neither cools nor heats; switching back on is left to the
    # next ticks, where equipment protection decides when (minimum off time, stagger)
    return [make_power(0), *(c for c in preferred if point_of(c) != "power")]


def _habit(current: State, commands: Sequence[C], point_of: Callable[[C], str],
           value_of: Callable[[C], Value]) -> Callable[[C], tuple[int, int]]:
    switching_on = any(point_of(c) == "power" and value_of(c) == 1 for c in commands)
    ranks = {"mode": 0, "setpoint_c": 1, "fan": 2}

    def key(c: C) -> tuple[int, int]:
        is_power = point_of(c) == "power"
        first = is_power if switching_on else not is_power
        return (int(first), ranks.get(point_of(c), 3))

    return key


def _candidates(preferred: Sequence[C]) -> list[tuple[C, ...]]:
    """The preferred order first, then every other (at most 4! = 24)."""
    first = tuple(preferred)
    return [first, *(p for p in permutations(preferred) if p != first)]


def _all_steps_allowed(current: State, order: Sequence[C], point_of: Callable[[C], str],
                       value_of: Callable[[C], Value], check: Check) -> bool:
    """No step on the way is refused by ``worsens`` (the last one is the target)."""
    state = dict(current)
    for c in order[:-1]:
        step = {**state, point_of(c): value_of(c)}
        if worsens(check, state, step) is not None:
            return False
        state = step
    return True
