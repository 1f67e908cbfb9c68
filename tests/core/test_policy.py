"""The setpoint policy, every mode against every side of its limit (issue 20: dry mode below
the cooling floor was caught by one seeded test only; mutant: ``COOLING_MODES =
frozenset({MODE_CODES["cool"]})``)."""

from __future__ import annotations

import pytest

from gateway.core.policy import SetpointPolicy
from gateway.core.semantics import MODE_CODES

POLICY = SetpointPolicy(exemptions={"srv": "server room"})

#: mode → (a setpoint the policy refuses or None, one it allows)
CASES = {
    "cool": (25.9, 26.0),
    "dry": (25.9, 26.0),  # dry cools: the same 26 °C floor
    "heat": (20.1, 20.0),
    "fan": (None, 16.0),  # moves air only: no limit on its setpoint
}


@pytest.mark.parametrize("mode", sorted(CASES))
def test_each_mode_against_its_limit(mode: str) -> None:
    refused, allowed = CASES[mode]
    code = MODE_CODES[mode]
    assert POLICY.violation(None, code, allowed) is None
    assert POLICY.clamp(None, code, allowed) == allowed
    if refused is not None:
        problem = POLICY.violation(None, code, refused)
        assert problem is not None and ("floor" in problem or "ceiling" in problem)
        assert POLICY.clamp(None, code, refused) == allowed
        assert POLICY.violation("srv", code, refused) is None  # an exempt zone
        assert POLICY.clamp("srv", code, refused) == refused


def test_dry_at_22_is_refused_and_clamped_to_the_floor() -> None:
    assert POLICY.violation(None, MODE_CODES["dry"], 22.0) == \
        "cooling setpoint 22 °C is below the 26 °C floor"
    assert POLICY.clamp(None, MODE_CODES["dry"], 22.0) == 26.0


def test_auto_is_refused_outright_and_unknown_mode_refuses_a_setpoint() -> None:
    assert POLICY.violation(None, MODE_CODES["auto"], 27.0) is not None
    assert POLICY.violation(None, MODE_CODES["auto"], None) is not None
    assert POLICY.violation(None, None, 27.0) is not None
    assert POLICY.violation(None, None, None) is None
    assert POLICY.violation("srv", MODE_CODES["auto"], 18.0) is None
