"""The safety invariants over thousands of generated control days (issue 14): seasons and
day types across the year, units found in any state, occupants at the wall remote,
overrides, missing readings, the shipped rule sets and a protection-free one — through
the real engine and the real actuator with its guard (tests/control/safety_cases.py
says exactly what is checked)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.control.rules import load_rules
from gateway.core.semantics import MODE_CODES
from tests.control.ctl_world import DEMO_RULES, OFFICES, World, at, demo_site
from tests.control.safety_cases import Outcome, run_case

CHUNKS = 10
CASES_PER_CHUNK = 200  # 2,000 cases of an hour each, about 80 s


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_generated_days_never_break_the_invariants(chunk: int, tmp_path: Path) -> None:
    total = Outcome()
    for seed in range(chunk * CASES_PER_CHUNK, (chunk + 1) * CASES_PER_CHUNK):
        total.add(run_case(seed, tmp_path))
    assert total.cases == CASES_PER_CHUNK and total.writes > 1000  # the cases do act
    assert total.violations == [], "\n".join(total.violations[:20])


COOL, HEAT = MODE_CODES["cool"], MODE_CODES["heat"]


def outside(state: dict[str, float]) -> bool:
    return bool(state["power"]) and (
        (state["mode"] == COOL and state["setpoint_c"] < 26)
        or (state["mode"] == HEAT and state["setpoint_c"] > 20))


def test_a_unit_switched_on_in_cool_is_never_given_the_heating_setpoint() -> None:
    """Finding 1: in a heating month occupants switch units on with the remote, in cool;
    protection holds the change to heat back, and the heating schedule's 20 °C used to be
    written anyway: 'on, cool, 20 °C', by the gateway itself."""
    rules = load_rules(DEMO_RULES, demo_site())
    day = "2026-12-07"
    w = World(rules, at(day, "07:00"))
    seen: list[str] = []
    minute = 0
    while w.t < at(day, "10:00"):
        if minute % 7 == 0:  # someone reaches for the remote
            unit = OFFICES[(minute // 7) % len(OFFICES)]
            w.state[unit].update(power=1, mode=COOL)
        w.tick()
        seen += [f"{w.t:%H:%M:%S} {u}" for u, s in w.state.items() if outside(s)
                 and rules.units[u].exempt is None]
        w.t += timedelta(seconds=10)
        minute += 1
    assert seen == []
    writes = [c for _, c, _ in w.log if c.point == "setpoint_c"
              and c.rule in ("schedule:offices-heating", "start:offices-warm-up")]
    assert writes  # the heating schedule (and its warm-up) did run


def test_an_override_on_a_cooling_unit_in_winter_does_not_flap() -> None:
    """Finding 1, second half: an operator's 27 °C on a unit still cooling in a heating
    month was lowered to the heating ceiling, and the setpoint flapped 20 ↔ 27 by tick."""
    rules = load_rules(DEMO_RULES, demo_site())
    day = "2026-12-07"
    w = World(rules, at(day, "06:00"))
    w.run(at(day, "09:00"))  # the offices heat at 20 °C
    w.state["ac-r101"].update(power=0)  # someone switches it off at the wall …
    w.run(at(day, "09:10"))
    w.state["ac-r101"].update(power=1, mode=COOL, setpoint_c=26.0)  # … and on again, in cool
    w.tick()  # the gateway sees it just switched on: protection holds it on for 5 min
    w.engine.add_override("ac-r101", {"setpoint_c": 27.0}, w.t, override_id="op-1",
                          duration_s=1800)
    start = len(w.commands("ac-r101", "setpoint_c"))
    states = []
    while w.t < at(day, "09:30"):
        w.tick()
        states.append(dict(w.state["ac-r101"]))
        w.t += timedelta(seconds=10)
    setpoints = [c.value for _, c, _ in w.commands("ac-r101", "setpoint_c")][start:]
    assert len(setpoints) <= 2, setpoints  # settles: no back and forth
    assert not any(outside(s) for s in states)
