"""Pure: the last line before the wire. Every write the actuator is about to send is checked
against the unit's read-back state (plus the writes of the same batch that went before it)
and the setpoint policy; a write that would take a running, non-exempt unit outside the
limits (cooling below the floor, heating above the ceiling, auto mode) is refused — as is
one that moves a unit found outside them into another kind of outside
(``write_order.worsens``).

It is independent of the precedence layers on purpose: the layers should never propose
such a write, and this is what stops a future bug in one of them from reaching a unit.
Unknowns are let through (a unit whose mode was never read); switching off always is.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.acquisition.reading import Reading
from gateway.control.ruleset import RuleSet
from gateway.control.write_order import Check, limits_check, worsens
from gateway.core.policy import SetpointPolicy
from gateway.core.profile import Value

#: the points that decide whether a unit is inside the limits
GUARDED = ("power", "mode", "setpoint_c")
REFUSED = "refused by the safety guard"


class SafetyGuard:
    def __init__(self, policy: SetpointPolicy, zones: Mapping[str, str | None],
                 latest: Mapping[str, Reading]):
        self.policy = policy
        self.zones = zones
        self.latest = latest
        self.refusals = 0

    @classmethod
    def for_rules(cls, rules: RuleSet, latest: Mapping[str, Reading]) -> SafetyGuard:
        """The rule set's limits and exemptions, over the units it controls."""
        guard = cls(SetpointPolicy(), {}, latest)
        guard.follow(rules)
        return guard

    def follow(self, rules: RuleSet) -> None:
        """Judge by this rule set from now on (a reload swapped it in)."""
        self.policy = rules.setpoint_policy()
        self.zones = {u: info.zone for u, info in rules.units.items()}

    def check(self, device: str, point: str, value: Value,
              written: Mapping[str, Value]) -> str | None:
        """Why this write must not go out, or None. ``written`` holds the batch's
        earlier writes to the same unit, which the read-back does not show yet."""
        if point not in GUARDED or (point == "power" and value != 1):
            return None
        reading = self.latest.get(device)
        state: dict[str, Value | None] = {p: reading.values.get(p) if reading else None
                                          for p in GUARDED}
        state.update(written)
        why = worsens(self.rule_for(device), state, {**state, point: value})
        if why is not None:
            self.refusals += 1
        return why

    def rule_for(self, device: str) -> Check:
        return limits_check(self.policy, self.zones.get(device))
