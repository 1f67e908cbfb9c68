"""FaultSpec parsing and the FaultSwitch's clock, without sockets."""

from __future__ import annotations

import pytest

from simulators.modbus import FaultSpec, FaultSpecError, FaultSwitch


@pytest.mark.parametrize(
    ("data", "spec"),
    [
        ({"kind": "none"}, FaultSpec()),
        ({"kind": "exception", "code": 6}, FaultSpec("exception", code=6)),
        ({"kind": "slow", "delay_ms": 1500}, FaultSpec("slow", delay_ms=1500.0)),
        ({"kind": "vanish", "duration_s": 5}, FaultSpec("vanish", duration_s=5.0)),
        ({"kind": "no_reply", "duration_s": 2.5}, FaultSpec("no_reply", duration_s=2.5)),
        ({"kind": "late"}, FaultSpec("late")),
        ({"kind": "bad_crc"}, FaultSpec("bad_crc")),
        ({"kind": "drop_connection"}, FaultSpec("drop_connection")),
    ],
)
def test_from_dict(data: dict[str, object], spec: FaultSpec) -> None:
    assert FaultSpec.from_dict(data) == spec
    assert FaultSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "kind: required"),
        ({"kind": "melt"}, "kind: 'melt' is not one of none, no_reply"),
        ({"kind": "exception"}, "code: required for kind 'exception'"),
        ({"kind": "exception", "code": 0}, "code: 0 is not a Modbus exception code"),
        ({"kind": "exception", "code": "6"}, "code: must be an integer, got '6'"),
        ({"kind": "exception", "code": True}, "code: must be an integer"),
        ({"kind": "slow"}, "delay_ms: required for kind 'slow'"),
        ({"kind": "slow", "delay_ms": -1}, "delay_ms: must be a positive number"),
        ({"kind": "slow", "delay_ms": "fast"}, "delay_ms: must be a number"),
        ({"kind": "vanish"}, "duration_s: required for kind 'vanish'"),
        ({"kind": "late", "code": 4}, "code: only used with kind 'exception'"),
        ({"kind": "late", "delay_ms": 4}, "delay_ms: only used with kind 'slow'"),
        ({"kind": "none", "duration_s": 4}, "duration_s: meaningless for kind 'none'"),
        ({"kind": "late", "colour": "red"}, "colour: unknown field(s); use kind, code"),
    ],
)
def test_from_dict_errors_say_which_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(FaultSpecError) as raised:
        FaultSpec.from_dict(data)
    assert message in str(raised.value)


def test_switch_set_clear_and_expire_with_an_injected_clock() -> None:
    now = [100.0]
    switch = FaultSwitch(now=lambda: now[0])
    assert switch.get(1) is None
    switch.set(1, {"kind": "vanish", "duration_s": 10})
    switch.set(2, FaultSpec("exception", code=4))
    now[0] = 109.9
    assert switch.get(1) == FaultSpec("vanish", duration_s=10.0)
    assert set(switch.active()) == {1, 2}
    now[0] = 110.0
    assert switch.get(1) is None
    assert switch.active() == {2: FaultSpec("exception", code=4)}
    switch.set(2, {"kind": "none"})
    assert switch.get(2) is None
    switch.set(3, {"kind": "late"})
    switch.clear(3)
    assert switch.active() == {}
