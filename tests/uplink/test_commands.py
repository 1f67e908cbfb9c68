"""Commands: hostile input is refused with a reason; what passes is inside bounds and policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.acquisition.reading import Reading
from gateway.core.policy import SetpointPolicy
from gateway.core.semantics import MODE_CODES
from gateway.core.site import load_site
from gateway.uplink.commands import CommandRefused, parse_command
from tests.sitefiles import DEMO_SITE

SITE = load_site(DEMO_SITE)
POLICY = SetpointPolicy(exemptions={"srv201": "server room: IT equipment"})
NOW = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)


def latest(mode: str = "cool", setpoint: float = 26.0) -> dict[str, Reading]:
    return {d: Reading(d, NOW, 1, {"mode": MODE_CODES[mode], "setpoint_c": setpoint})
            for d in SITE.devices}


def cmd(device: str, body: object, mode: str = "cool") -> object:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        return parse_command(SITE, device, payload, latest(mode), POLICY)
    except CommandRefused as exc:
        return exc


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8)
points = st.sampled_from(["setpoint_c", "mode", "power", "fan", "room_temp_c", "x", ""])
bodies = st.fixed_dictionaries(
    {}, optional={"id": st.text(max_size=70) | json_values, "point": points | json_values,
                  "value": json_values | st.floats() | st.sampled_from(["cool", "heat", "on"]),
                  "ttl_s": json_values | st.floats(), "extra": json_values})
devices = st.sampled_from(["ac-r101", "ac-m101", "ac-srv201", "main-meter", "nope"])


@settings(max_examples=400, deadline=None)
@given(devices, bodies | json_values | st.binary(max_size=64))
def test_any_payload_is_refused_or_within_bounds_and_policy(device: str, body: object) -> None:
    result = cmd(device, body)
    if isinstance(result, CommandRefused):
        assert result.reason  # always says why
        return
    point = SITE.devices[device].profile.points[result.point]  # type: ignore[attr-defined]
    assert point.writable
    point.encode(result.value)  # inside the profile's bounds and enum
    if result.point == "setpoint_c" and device != "ac-srv201":  # type: ignore[attr-defined]
        assert result.value >= 26  # type: ignore[attr-defined]


@pytest.mark.parametrize(("device", "body", "mode", "reason"), [
    ("ac-r101", {"id": "a", "point": "setpoint_c", "value": 25.5}, "cool", "policy: cooling"),
    ("ac-r101", {"id": "a", "point": "setpoint_c", "value": 22}, "heat", "policy: heating"),
    ("ac-r101", {"id": "a", "point": "mode", "value": "auto"}, "cool", "policy: auto mode"),
    ("ac-r101", {"id": "a", "point": "mode", "value": "heat"}, "cool", "policy: heating"),
    ("ac-r101", {"id": "a", "point": "room_temp_c", "value": 20}, "cool", "not writable"),
    ("ac-r101", {"id": "a", "point": "setpoint_c", "value": 40}, "cool", "above the maximum"),
    ("ac-r101", {"id": "a", "point": "setpoint_c", "value": "27"}, "cool", "finite number"),
    ("ac-r101", {"id": "a", "point": "fan", "value": "turbo"}, "cool", "not one of"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "ttl_s": -1}, "cool", "ttl_s"),
    ("ac-r101", {"point": "power", "value": 1}, "cool", "id:"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "raw": 5}, "cool", "unknown field"),
    ("nope", {"id": "a", "point": "power", "value": 1}, "cool", "no device"),
    ("ac-r101", b"\xff\xfe", "cool", "not JSON"),
    ("ac-r101", [1, 2], "cool", "JSON object"),
])
def test_refusals_say_why(device: str, body: object, mode: str, reason: str) -> None:
    result = cmd(device, body, mode)
    assert isinstance(result, CommandRefused)
    assert reason in result.reason


def test_legal_commands_pass_with_standard_values() -> None:
    ok = cmd("ac-r101", {"id": "a", "point": "setpoint_c", "value": 27.5, "ttl_s": 30})
    assert not isinstance(ok, CommandRefused) and ok.value == 27.5 and ok.ttl_s == 30
    on = cmd("ac-r101", {"id": "b", "point": "power", "value": "on"})
    assert not isinstance(on, CommandRefused) and on.value == 1
    # the server room has a recorded exemption: 22 °C cooling is allowed there
    srv = cmd("ac-srv201", {"id": "c", "point": "setpoint_c", "value": 22})
    assert not isinstance(srv, CommandRefused) and srv.value == 22
