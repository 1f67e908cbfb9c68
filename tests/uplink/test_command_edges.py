"""The command path's edges, exactly: every limit on both sides, the refusal texts an
operator reads (with the command's id, so the result can name it), booleans and codes,
a unit with no reading yet. Written to kill mutants that survived tests/uplink/
test_commands.py (make mutation, docs/testing.md)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from gateway.uplink.commands import (
    MAX_CLOCK_SKEW_S,
    MAX_INT_DIGITS,
    MAX_PAYLOAD,
    MAX_TTL_S,
    MIN_TTL_S,
    CommandRefused,
    OperatorCommand,
    parse_command,
)
from gateway.uplink.messages import iso
from tests.uplink.test_commands import NOW, POLICY, SENT, SITE, cmd


def ok(device: str, body: dict[str, object], mode: str = "cool") -> OperatorCommand:
    result = cmd(device, body, mode)
    assert isinstance(result, OperatorCommand), getattr(result, "reason", result)
    return result


def refused(device: str, body: object, mode: str = "cool") -> CommandRefused:
    result = cmd(device, body, mode)
    assert isinstance(result, CommandRefused), result
    return result


def sent(seconds_before_now: float) -> str:
    return iso(NOW - timedelta(seconds=seconds_before_now))


@pytest.mark.parametrize(("device", "body", "reason"), [
    ("ac-r101", [1], "payload must be a JSON object"),
    ("ac-r101", {"id": "x" * 65, "point": "power", "value": 1},
     "id: a string of 1 to 64 characters is required"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "é": 1, "b": 2},
     "unknown field(s): b, é"),
    ("nope", {"id": "a", "point": "power", "value": 1}, "no device 'nope' at this site"),
    ("ac-r101", {"id": "a", "point": 5, "value": 1}, "point: a standard point name is required"),
    ("ac-r101", {"id": "a", "point": "摇头", "value": 1},
     "point: device 'ac-r101' has no point '摇头'"),
    ("ac-r101", {"id": "a", "point": "room_temp_c", "value": 1},
     "point: 'room_temp_c' is not writable"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "ttl_s": 0.5},
     "ttl_s: a number of seconds from 1 to 86400 is required"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "sent_at": None},
     "sent_at: the time the command was sent (ISO-8601 with a time zone, e.g. "
     "2026-07-15T08:00:00Z) is required"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "sent_at": "n" * 60},
     "sent_at: '" + "n" * 40 + "' is not an ISO-8601 time"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "sent_at": "2026-07-15T01:59:59"},
     "sent_at: the time needs a zone (Z or +08:00)"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "ttl_s": 5, "sent_at": sent(30)},
     "expired: sent 30 s ago, ttl_s 5"),
    ("ac-r101", {"id": "a", "point": "power", "value": 1, "sent_at": sent(-300)},
     "sent_at is 300 s ahead of the gateway's clock: check the sender's clock"),
    ("ac-r101", {"id": "a", "point": "mode", "value": "冷"},
     "value: '冷' is not one of cool, heat, fan, dry, auto"),
    ("ac-r101", {"id": "a", "point": "mode", "value": 9},
     "value: one of cool, heat, fan, dry, auto is required"),
    ("ac-r101", {"id": "a", "point": "mode", "value": True},
     "value: one of cool, heat, fan, dry, auto is required"),
    ("ac-r101", {"id": "a", "point": "setpoint_c", "value": "27"},
     "value: a finite number is required"),
    ("ac-r101", {"id": "a", "point": "setpoint_c", "value": 25},
     "policy: cooling setpoint 25 °C is below the 26 °C floor"),
    ("ac-r101", b'{"id":"\\ud800","point":"power","value":1}',
     "id: not valid Unicode (a lone surrogate escape)"),
    ("ac-r101", b"[" * 2000 + b"]" * 2000, "payload is not JSON: nested too deeply"),
])
def test_refusals_word_for_word_with_the_commands_id(device: str, body: object,
                                                     reason: str) -> None:
    result = refused(device, body)
    assert result.reason == reason == str(result)
    valid_id = isinstance(body, dict) and body.get("id") == "a"
    assert result.command_id == ("a" if valid_id else None)


def test_a_value_outside_the_profile_is_refused_with_the_commands_id() -> None:
    result = refused("ac-r101", {"id": "a", "point": "setpoint_c", "value": 40})
    assert result.reason.startswith("value: ") and "maximum" in result.reason
    assert result.command_id == "a"


def test_payload_and_integer_limits_hold_on_both_sides() -> None:
    body = {"id": "a", "point": "setpoint_c", "value": 27, "sent_at": SENT}
    raw = json.dumps(body).encode()
    exact = raw[:-1] + b" " * (MAX_PAYLOAD - len(raw)) + b"}"
    assert len(exact) == MAX_PAYLOAD and ok_bytes(exact).value == 27
    assert refused("ac-r101", exact[:-1] + b" }").reason == \
        f"payload larger than {MAX_PAYLOAD} bytes"
    digits = b'{"id":"a","point":"setpoint_c","sent_at":"' + SENT.encode() + b'","value":'
    eighteen = refused("ac-r101", digits + b"1" * MAX_INT_DIGITS + b"}").reason
    assert eighteen.startswith("value: ") and "digits" not in eighteen  # parsed, then bounded
    assert refused("ac-r101", digits + b"1" * (MAX_INT_DIGITS + 1) + b"}").reason == \
        "payload is not JSON: an integer of more than 18 digits"


def ok_bytes(payload: bytes) -> OperatorCommand:
    result = cmd("ac-r101", payload)
    assert isinstance(result, OperatorCommand), getattr(result, "reason", result)
    return result


def test_id_ttl_age_and_skew_limits_are_inclusive() -> None:
    assert ok("ac-r101", {"id": "x" * 64, "point": "power", "value": 1}).id == "x" * 64
    assert ok("ac-r101", {"id": "a", "point": "power", "value": 1,
                          "ttl_s": MIN_TTL_S, "sent_at": sent(1)}).ttl_s == MIN_TTL_S
    assert ok("ac-r101", {"id": "a", "point": "power", "value": 1,
                          "ttl_s": MAX_TTL_S}).ttl_s == MAX_TTL_S
    assert ok("ac-r101", {"id": "a", "point": "power", "value": 1, "ttl_s": 30,
                          "sent_at": sent(30)}).value == 1  # exactly ttl_s old: still fresh
    assert ok("ac-r101", {"id": "a", "point": "power", "value": 1,
                          "sent_at": sent(-MAX_CLOCK_SKEW_S)}).value == 1


def test_an_accepted_command_says_what_and_where() -> None:
    command = ok("ac-r102", {"id": "op-1", "point": "setpoint_c", "value": 27.5, "ttl_s": 30})
    assert command == OperatorCommand("op-1", "ac-r102", "setpoint_c", 27.5, 30.0)


@pytest.mark.parametrize(("value", "code"), [(True, 1), (False, 0), ("on", 1), (0, 0)])
def test_power_takes_booleans_names_and_codes(value: object, code: int) -> None:
    assert ok("ac-r101", {"id": "a", "point": "power", "value": value}).value == code


def test_mode_takes_its_codes() -> None:
    assert ok("ac-r101", {"id": "a", "point": "mode", "value": 0}).value == 0  # cool


def test_a_unit_with_no_reading_yet_cannot_take_a_setpoint() -> None:
    """Its mode is unknown, so the setpoint limit cannot be checked: refused, not a crash."""
    payload = json.dumps({"id": "a", "point": "setpoint_c", "value": 27,
                          "sent_at": SENT}).encode()
    for latest in ({}, {"ac-r101": _reading({"setpoint_c": 27.0})}):
        with pytest.raises(CommandRefused) as refusal:
            parse_command(SITE, "ac-r101", payload, latest, POLICY, NOW)
        assert refusal.value.reason.startswith("policy: the unit's mode is unknown")
    mode = json.dumps({"id": "a", "point": "mode", "value": "cool", "sent_at": SENT}).encode()
    assert parse_command(SITE, "ac-r101", mode, {}, POLICY, NOW).value == 0


def _reading(values: dict[str, float]) -> object:
    from gateway.acquisition.reading import Reading

    return Reading("ac-r101", NOW, 1, values)  # type: ignore[arg-type]
