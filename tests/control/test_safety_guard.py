"""The actuator's last line and the write order, alone (pure: no engine, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.acquisition.reading import Reading
from gateway.control.safety_guard import SafetyGuard
from gateway.control.write_order import safe_order
from gateway.core.policy import SetpointPolicy
from gateway.core.semantics import MODE_CODES

COOL, HEAT, AUTO = MODE_CODES["cool"], MODE_CODES["heat"], MODE_CODES["auto"]
NOW = datetime(2026, 12, 6, tzinfo=UTC)


def guard(**state: float) -> SafetyGuard:
    return SafetyGuard(SetpointPolicy(exemptions={"srv": "server room"}),
                       {"u1": "office", "s1": "srv"},
                       {"u1": Reading("u1", NOW, 1, dict(state)),
                        "s1": Reading("s1", NOW, 1, dict(state))})


def test_the_guard_refuses_what_takes_a_unit_outside() -> None:
    g = guard(power=1, mode=COOL, setpoint_c=26.0)
    assert g.check("u1", "setpoint_c", 22.0, {}) is not None
    assert g.check("u1", "mode", HEAT, {}) is not None      # heating at 26 °C
    assert g.check("u1", "mode", AUTO, {}) is not None
    assert g.check("u1", "setpoint_c", 27.0, {}) is None
    assert g.check("s1", "setpoint_c", 22.0, {}) is None    # exempt zone
    # the batch's earlier writes count: after setpoint 20, heat is allowed
    assert g.check("u1", "mode", HEAT, {"setpoint_c": 20.0}) is None
    assert g.refusals == 3


def test_a_unit_found_outside_may_only_move_back() -> None:
    g = guard(power=1, mode=COOL, setpoint_c=24.0)  # an occupant's 24 °C
    assert g.check("u1", "setpoint_c", 16.0, {}) is not None  # deeper: refused
    assert g.check("u1", "setpoint_c", 25.0, {}) is None      # on its way back
    assert g.check("u1", "power", 0, {}) is None               # off is always allowed
    off = guard(power=0, mode=COOL, setpoint_c=20.0)
    assert off.check("u1", "power", 1, {}) is not None         # not switched on outside


def test_with_no_safe_order_the_unit_goes_off_and_protection_restarts_it() -> None:
    check = SafetyGuard(SetpointPolicy(), {}, {}).rule_for("u1")
    current = {"power": 1, "mode": COOL, "setpoint_c": 26.0}
    order = safe_order(current, [("mode", HEAT), ("setpoint_c", 20.0)], lambda c: c[0],
                       lambda c: c[1], check, lambda v: ("power", v))
    assert order == [("power", 0), ("mode", HEAT), ("setpoint_c", 20.0)]
    # a safe order exists: fan first, then 20 °C, with no power cycle
    order = safe_order(current, [("mode", MODE_CODES["fan"]), ("setpoint_c", 20.0)],
                       lambda c: c[0], lambda c: c[1], check, lambda v: ("power", v))
    assert order == [("mode", MODE_CODES["fan"]), ("setpoint_c", 20.0)]


def test_refusals_are_counted_and_only_refusals() -> None:
    g = guard(power=1, mode=COOL, setpoint_c=26.0)
    for allowed in (27.0, 28.0, 26.0, 30.0):
        assert g.check("u1", "setpoint_c", allowed, {}) is None
    assert g.refusals == 0
    assert g.check("u1", "setpoint_c", 22.0, {}) is not None
    assert g.refusals == 1


def test_unguarded_points_off_and_units_never_read_pass() -> None:
    g = guard(power=1, mode=COOL, setpoint_c=24.0)  # found outside the limits
    assert g.check("u1", "fan", 3, {}) is None  # not a point the limits are about
    assert g.check("u1", "power", 0, {}) is None
    assert g.check("never-read", "setpoint_c", 22.0, {}) is None  # unknowns pass
    assert g.refusals == 0


def test_the_guard_follows_the_rule_sets_limits_and_exemptions() -> None:
    from gateway.control.rules import load_rules
    from tests.control.ctl_world import DEMO_RULES, demo_site

    rules = load_rules(DEMO_RULES, demo_site())
    latest = {u: Reading(u, NOW, 1, {"power": 1, "mode": COOL, "setpoint_c": 26.0})
              for u in ("ac-r101", "ac-srv201")}
    g = SafetyGuard.for_rules(rules, latest)
    assert g.check("ac-r101", "setpoint_c", 22.0, {}) is not None
    assert g.check("ac-srv201", "setpoint_c", 22.0, {}) is None  # the server room's exemption
    assert g.zones["ac-r101"] == rules.units["ac-r101"].zone
