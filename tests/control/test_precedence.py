"""The pure engine: schedules and day types, the fixed precedence, ties, clamps against
everything, overrides that expire, sweeps, pre-cooling, retries and alarms."""

import random
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.control.ruleset import RuleSet
from gateway.core.policy import COOLING_MODES, HEATING_MODES
from tests.control.ctl_world import MEETING, NO_PROTECTION, OFFICES, World, at, rules_from

BASE = """
groups:
  offices: {match: {use: office}}
  meeting: {match: {use: meeting}}
  floor2-offices: {match: {use: office, floor: "2"}}
policy:
  exemptions: [{zone: srv201, reason: "server room: IT equipment"}]
schedules:
  offices:
    group: offices
    workday:
      - {at: "08:00", power: on, mode: cool, setpoint_c: 26, fan: auto}
      - {at: "18:00", power: off}
    off_day: [{at: "07:00", power: off}]
  offices-winter:
    group: offices
    months: ["11-12", "1-3"]
    priority: 1
    workday:
      - {at: "08:00", power: on, mode: heat, setpoint_c: 20}
      - {at: "18:00", power: off}
  server:
    group: ac-srv201
    hold: always
    every_day: [{at: "00:00", power: on, mode: cool, setpoint_c: 24}]
sweeps:
  evening: {group: all, except: [ac-srv201], at: ["21:00"]}
""" + NO_PROTECTION


@pytest.fixture
def rules(tmp_path: Path) -> RuleSet:
    return rules_from(tmp_path, BASE)


def on_at(w: World, device: str) -> list[str]:
    return [t.strftime("%H:%M") for t, c, _ in w.commands(device, "power") if c.value == 1]


def off_at(w: World, device: str) -> list[str]:
    return [t.strftime("%H:%M") for t, c, _ in w.commands(device, "power") if c.value == 0]


# -- schedules and day types ------------------------------------------------------------

def test_workday_schedule_is_followed(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "07:50"))
    w.run(at("2026-07-15", "18:10"), step_s=60)
    for u in OFFICES:
        assert on_at(w, u) == ["08:00"] and off_at(w, u) == ["18:00"]
        assert w.state[u]["power"] == 0 and w.state[u]["mode"] == 0
        assert w.state[u]["setpoint_c"] == 26
    # switching on: settings first, then power
    points = [c.point for t, c, _ in w.commands("ac-r101") if t == at("2026-07-15", "08:00")]
    assert points[-1] == "power"
    assert w.state["ac-srv201"] == {**w.state["ac-srv201"], "power": 1, "setpoint_c": 24}
    assert not w.commands("ac-m101")  # no rule for meeting rooms: left alone


@pytest.mark.parametrize(("day", "on"), [
    ("2026-06-19", False),   # Dragon Boat Festival, a Friday
    ("2026-10-01", False),   # National Day
    ("2026-07-18", False),   # an ordinary Saturday
    ("2026-05-09", True),    # 调休 make-up Saturday
    ("2026-10-10", True),    # make-up Saturday
])
def test_day_types_drive_the_schedule(rules: RuleSet, day: str, on: bool) -> None:
    w = World(rules, at(day, "07:50"))
    w.run(at(day, "09:00"), step_s=60)
    assert (on_at(w, "ac-r101") == ["08:00"]) is on
    assert w.state["ac-r101"]["power"] == int(on)


def test_a_holiday_switches_off_units_left_on(rules: RuleSet) -> None:
    w = World(rules, at("2026-10-01", "06:50"))
    w.tick()
    w.state["ac-r101"]["power"] = 1   # switched on locally before the 07:00 step
    w.run(at("2026-10-01", "07:10"), step_s=60)
    assert off_at(w, "ac-r101") == ["07:00"]
    assert "holiday" in w.commands("ac-r101", "power")[0][1].reason


def test_start_up_reapplies_the_current_step(rules: RuleSet) -> None:
    # the gateway starts at 10:00: the 08:00 step is applied at once
    w = World(rules, at("2026-07-15", "10:00"))
    w.tick()
    assert w.state["ac-r105"]["power"] == 1
    assert on_at(w, "ac-r105") == ["10:00"]


def test_local_changes_stand_until_the_next_step(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "07:59"))
    w.run(at("2026-07-15", "10:00"), step_s=60)
    n = len(w.log)
    w.state["ac-r101"]["setpoint_c"] = 27.5   # an occupant, within the limits
    w.state["ac-r102"]["power"] = 0           # another leaves early
    w.run(at("2026-07-15", "17:59"), step_s=60)
    assert len(w.log) == n
    w.run(at("2026-07-15", "18:01"), step_s=60)
    assert off_at(w, "ac-r101") == ["18:00"]
    assert off_at(w, "ac-r102") == []  # already off: nothing to send


def test_hold_always_is_enforced(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "10:00"))
    w.tick()
    w.state["ac-srv201"]["setpoint_c"] = 27.0
    w.t += timedelta(seconds=10)
    w.tick()
    assert w.state["ac-srv201"]["setpoint_c"] == 24.0  # exempt zone: 24 °C allowed


def test_after_hours_sweep(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "18:30"))
    w.tick()
    w.state["ac-r103"]["power"] = 1           # someone works late
    w.run(at("2026-07-15", "20:59"), step_s=60)
    assert w.state["ac-r103"]["power"] == 1   # tolerated until the sweep
    w.run(at("2026-07-15", "21:02"), step_s=60)
    assert off_at(w, "ac-r103") == ["21:00"]
    sweep = w.commands("ac-r103", "power")[-1][1]
    assert sweep.rule == "sweep:evening"
    assert w.state["ac-srv201"]["power"] == 1  # excepted


# -- clamps -----------------------------------------------------------------------------

def test_local_setpoint_below_the_floor_is_raised(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "10:00"))
    w.tick()
    w.state["ac-r101"]["setpoint_c"] = 22.0
    w.t += timedelta(seconds=10)
    w.tick()
    (_, cmd, _), = w.commands("ac-r101", "setpoint_c")[-1:]
    assert cmd.value == 26.0 and cmd.rule == "clamp:cooling-floor"
    assert "22 °C" in cmd.reason and cmd.before == 22.0


def test_override_below_the_floor_is_clamped(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "10:00"))
    w.tick()
    w.engine.add_override("ac-r101", {"setpoint_c": 22.0}, w.t, override_id="op-1")
    w.tick()
    assert w.state["ac-r101"]["setpoint_c"] == 26.0
    assert not w.commands("ac-r101", "setpoint_c")
    info = w.engine.explain_unit("ac-r101", w.t)
    assert info["decided_by"]["setpoint_c"]["rule"] == "clamp:cooling-floor"
    # the exempt server room may be overridden below 26
    w.engine.add_override("ac-srv201", {"setpoint_c": 22.0}, w.t, override_id="op-2")
    w.tick()
    assert w.state["ac-srv201"]["setpoint_c"] == 22.0


def test_override_above_the_heating_ceiling_is_clamped(rules: RuleSet) -> None:
    w = World(rules, at("2026-01-05", "09:00"))
    w.tick()
    assert w.state["ac-r101"]["mode"] == 1 and w.state["ac-r101"]["setpoint_c"] == 20
    w.engine.add_override("ac-r101", {"setpoint_c": 24.0}, w.t, override_id="op-3")
    w.t += timedelta(seconds=10)
    w.tick()
    assert w.state["ac-r101"]["setpoint_c"] == 20.0


def test_auto_mode_is_replaced_for_non_exempt_units(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "10:00"))
    w.tick()
    w.state["ac-r101"]["mode"] = 4  # auto, set on the wall remote
    w.t += timedelta(seconds=10)
    w.tick()
    cmd = w.commands("ac-r101", "mode")[-1][1]
    assert cmd.value == 0 and cmd.rule == "clamp:no-auto"


def test_no_command_ever_breaks_the_limits(rules: RuleSet) -> None:
    """Random overrides and local changes for a summer and a winter day: no setpoint command
    below 26 °C for a cooling unit, none above 20 °C for a heating one, unless exempt."""
    rng = random.Random(7)
    checked = 0
    for day in ("2026-07-15", "2026-01-06"):
        w = World(rules, at(day, "06:00"))
        for i in range(600):
            u = rng.choice(OFFICES + MEETING)
            r = rng.random()
            if r < 0.1:
                w.engine.add_override(u, {"setpoint_c": rng.choice([16, 18, 22, 24, 28, 30])},
                                      w.t, override_id=f"op-{i}",
                                      duration_s=rng.choice([60, 600, 3600]))
            elif r < 0.15:
                w.engine.add_override(u, {"mode": rng.choice([0, 1, 4])}, w.t,
                                      override_id=f"om-{i}", duration_s=600)
            elif r < 0.3:
                w.state[u]["setpoint_c"] = float(rng.choice([17, 20, 23, 25, 29]))
                w.state[u]["mode"] = rng.choice([0, 1, 3, 4])
                w.state[u]["power"] = rng.choice([0, 1])
            result = w.tick()
            # the unit as the tick left it (commands apply in order, settings first)
            for device, cmds in result.commands.items():
                if rules.units[device].exempt:
                    continue
                s = w.state[device]
                for cmd in cmds:
                    if cmd.point != "setpoint_c":
                        continue
                    checked += 1
                    assert not (s["mode"] in COOLING_MODES and cmd.value < 26), (cmd, s)
                    assert not (s["mode"] in HEATING_MODES and cmd.value > 20), (cmd, s)
                if s["power"] == 1:
                    assert s["mode"] != 4, (device, s)  # auto is replaced
                    if s["mode"] in COOLING_MODES:
                        assert s["setpoint_c"] >= 26, (device, s)
                    if s["mode"] in HEATING_MODES:
                        assert s["setpoint_c"] <= 20, (device, s)
            w.t += timedelta(seconds=30)
    assert checked > 50


# -- overrides ----------------------------------------------------------------------------

def test_override_that_expires_hands_back_to_the_schedule(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "09:59"))
    w.run(at("2026-07-15", "10:00"), step_s=60)
    w.engine.add_override("ac-r101", {"setpoint_c": 28.0, "power": 1}, w.t,
                          override_id="op-9", duration_s=1800)
    w.engine.add_override("ac-r102", {"power": 0}, w.t, override_id="op-10", duration_s=1800)
    w.run(at("2026-07-15", "10:29"), step_s=60)
    assert w.state["ac-r101"]["setpoint_c"] == 28.0 and w.state["ac-r102"]["power"] == 0
    w.run(at("2026-07-15", "10:32"), step_s=60)
    assert w.state["ac-r101"]["setpoint_c"] == 26.0   # back to the 08:00 step
    assert w.state["ac-r102"]["power"] == 1
    assert any("expired" in n.reason for n in w.notices)
    back = w.commands("ac-r101", "setpoint_c")[-1]
    assert back[0] == at("2026-07-15", "10:30") and back[1].rule == "schedule:offices"


def test_override_lasts_until_the_next_step_at_most(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "17:00"))
    w.tick()
    ov = w.engine.add_override("ac-r101", {"setpoint_c": 27.0}, w.t, override_id="op-11")
    assert ov.until == at("2026-07-15", "18:00").timestamp()


def test_override_refuses_unknown_points(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "10:00"))
    with pytest.raises(ValueError):
        w.engine.add_override("ac-r101", {"room_temp_c": 20}, w.t, override_id="x")
    with pytest.raises(KeyError):
        w.engine.add_override("main-meter", {"power": 1}, w.t, override_id="x")


# -- ties inside a layer ----------------------------------------------------------------

def test_narrower_scope_wins(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, BASE.replace("sweeps:", """
  floor2:
    group: floor2-offices
    workday: [{at: "08:00", setpoint_c: 27}]
sweeps:"""))
    w = World(rules, at("2026-07-15", "08:00"))
    w.tick()
    assert w.state["ac-r201"]["setpoint_c"] == 27.0
    assert w.state["ac-r101"]["setpoint_c"] == 26.0
    cmd = w.commands("ac-r201", "setpoint_c")[0][1]
    assert "narrower scope" in cmd.reason and cmd.rule == "schedule:floor2"


@pytest.mark.parametrize(("a", "b", "expect"), [
    ("{at: '08:00', power: on, mode: cool, setpoint_c: 26}",
     "{at: '08:00', power: on, mode: cool, setpoint_c: 27}", {"setpoint_c": 27.0}),
    ("{at: '08:00', power: on}", "{at: '08:00', power: off}", {"power": 0}),
    ("{at: '08:00', power: on, mode: cool, fan: high}",
     "{at: '08:00', power: on, mode: cool, fan: low}", {"fan": 1}),
    ("{at: '08:00', power: on, mode: fan}", "{at: '08:00', power: on, mode: cool}",
     {"mode": 2}),
])
def test_same_scope_and_priority_take_the_conservative_value(tmp_path: Path, a: str, b: str,
                                                             expect: dict[str, float]) -> None:
    rules = rules_from(tmp_path, f"""
        groups:
          a: {{match: {{use: office}}}}
          b: {{match: {{use: office}}}}
        schedules:
          one: {{group: a, workday: [{a}]}}
          two: {{group: b, workday: [{b}]}}
    """, extra=NO_PROTECTION)
    w = World(rules, at("2026-07-15", "08:00"))
    w.tick()
    for point, value in expect.items():
        assert w.state["ac-r101"][point] == value


def test_heating_conservative_is_the_lower_setpoint(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, """
        groups:
          a: {match: {use: office}}
          b: {match: {use: office}}
        schedules:
          one: {group: a, workday: [{at: '08:00', power: on, mode: heat, setpoint_c: 20}]}
          two: {group: b, workday: [{at: '08:00', power: on, mode: heat, setpoint_c: 18}]}
    """, extra=NO_PROTECTION)
    w = World(rules, at("2026-01-06", "08:00"))
    w.tick()
    assert w.state["ac-r101"]["setpoint_c"] == 18.0


def test_higher_priority_beats_conservative(rules: RuleSet) -> None:
    # offices-winter (priority 1) and offices (priority 0) share scope in January
    w = World(rules, at("2026-01-06", "08:00"))
    w.tick()
    assert w.state["ac-r101"]["mode"] == 1 and w.state["ac-r101"]["setpoint_c"] == 20


# -- pre-cooling ------------------------------------------------------------------------

PRECOOL = BASE + """
precool:
  valley:
    group: offices
    months: "6-9"
    window: {from: "12:00", to: "14:00"}
    setpoint_c: 26
    peak_setpoint_c: 27.5
    min_outdoor_c: 30
"""


@pytest.mark.parametrize(("outdoor", "runs"), [(35.0, True), (26.0, False), (None, False)])
def test_precool_in_the_valley_then_float_in_the_peak(tmp_path: Path, outdoor: float | None,
                                                      runs: bool) -> None:
    rules = rules_from(tmp_path, PRECOOL)
    w = World(rules, at("2026-07-15", "11:00"), outdoor_c=outdoor)
    w.tick()
    w.state["ac-r101"]["setpoint_c"] = 28.0  # an occupant, allowed
    w.run(at("2026-07-15", "12:01"), step_s=60)
    assert w.state["ac-r101"]["setpoint_c"] == (26.0 if runs else 28.0)
    w.run(at("2026-07-15", "16:01"), step_s=60)
    assert w.state["ac-r101"]["setpoint_c"] == (27.5 if runs else 28.0)
    if runs:
        cmd = w.commands("ac-r101", "setpoint_c")[-1][1]
        assert cmd.rule == "precool:valley" and cmd.inputs["tariff_period"] == "peak"
        # pre-cooling never goes under the floor: the clamp bounds it (load time refuses it)
        assert all(c.value >= 26 for _, c, _ in w.commands(point="setpoint_c")
                   if not rules.units[c.device].exempt)


# -- safety, retries, alarms ------------------------------------------------------------

def test_stale_units_are_left_alone(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "07:55"))
    w.tick()
    # ac-r101 stops answering: its last reading stays old
    engine = w.engine
    w.t = at("2026-07-15", "08:00")
    readings = w.readings()
    old = engine.states["ac-r101"].seq
    readings["ac-r101"] = type(readings["ac-r101"])("ac-r101", at("2026-07-15", "07:55"), old,
                                                    {})
    result = engine.tick(w.t, readings)
    assert "ac-r101" not in result.commands
    assert "ac-r102" in result.commands


def test_kill_switch_stops_every_write(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "08:00"))
    w.engine.set_kill_switch("operator: maintenance")
    w.run(at("2026-07-15", "09:00"), step_s=60)
    assert not w.log
    w.engine.set_kill_switch(None)
    w.tick()
    assert w.state["ac-r101"]["power"] == 1


def test_unapplied_command_is_retried_then_alarmed(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "07:59"), fail={("ac-r101", "power")})
    w.run(at("2026-07-15", "08:10"), step_s=10)
    tries = w.commands("ac-r101", "power")
    assert len(tries) == rules.engine.max_attempts == 3
    raised = [a for a in w.alarms if a.key == "write:ac-r101:power" and a.active]
    assert len(raised) == 1 and "not applied after 3 attempts" in raised[0].message
    # parked: no more writes until retry_after_alarm (15 min), then one more round
    w.fail.clear()
    w.run(at("2026-07-15", "08:16"), step_s=10)
    assert w.state["ac-r101"]["power"] == 1
    assert any(a.key == "write:ac-r101:power" and not a.active for a in w.alarms)


def test_dry_run_reports_once_and_writes_nothing(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "07:59"), dry_run=True)
    w.run(at("2026-07-15", "08:30"), step_s=10)
    assert all(s["power"] == 0 for u, s in w.state.items() if u != "ac-srv201")
    power_on = w.commands("ac-r101", "power")
    assert len(power_on) == 1 and power_on[0][1].value == 1


def test_commands_carry_rule_reason_and_inputs(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "08:00"), outdoor_c=33.0)
    w.tick()
    cmd = w.commands("ac-r101", "power")[0][1]
    assert cmd.rule == "schedule:offices" and cmd.layer == "schedule"
    assert "workday step 08:00" in cmd.reason
    assert cmd.before == 0 and cmd.value == 1
    assert cmd.inputs["day_type"] == "workday" and cmd.inputs["outdoor_temp_c"] == 33.0


def test_calendar_coverage_alarm_before_the_data_runs_out(rules: RuleSet) -> None:
    w = World(rules, at("2026-11-20", "10:00"))
    w.tick()
    assert not [a for a in w.alarms if a.key == "calendar:coverage"]
    w.goto(at("2026-12-10", "10:00"))
    (alarm,) = [a for a in w.alarms if a.key == "calendar:coverage"]
    assert alarm.active and "2027 is not covered" in alarm.message
    w.goto(at("2026-12-11", "10:00"))  # raised once, not every day
    assert len([a for a in w.alarms if a.key == "calendar:coverage"]) == 1


def test_reload_keeps_overrides_and_applied_steps(rules: RuleSet, tmp_path: Path) -> None:
    w = World(rules, at("2026-07-15", "10:00"))
    w.tick()
    w.engine.add_override("ac-r101", {"setpoint_c": 28}, w.t, override_id="keep",
                          duration_s=3600)
    w.t += timedelta(seconds=10)
    w.tick()
    n = len(w.log)
    same = rules_from(tmp_path, BASE, name="again.yaml")
    w.engine.replace_rules(same)
    w.t += timedelta(seconds=10)
    w.tick()
    assert len(w.log) == n                      # nothing re-sent: same steps, same override
    assert w.state["ac-r101"]["setpoint_c"] == 28
    changed = rules_from(tmp_path, BASE.replace("setpoint_c: 26, fan: auto",
                                                "setpoint_c: 27, fan: auto"), name="c.yaml")
    w.engine.replace_rules(changed)
    w.t += timedelta(seconds=10)
    w.tick()
    assert w.state["ac-r102"]["setpoint_c"] == 27  # an edited step is applied again
    assert w.state["ac-r101"]["setpoint_c"] == 28  # the override still holds
