"""Equipment protection under every rule (overrides included): minimum on/off times, starts per
hour, the cool↔heat delay, the restart stagger; and the window and occupancy layers on units
whose profile reports window contacts and occupancy."""

import itertools
import random
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.control.protection import UnitHistory, power_deferral, stagger_s
from gateway.control.ruleset import ProtectionConfig, RuleSet
from gateway.core.profile import ProfileLibrary
from gateway.core.site import load_site
from tests.control.ctl_world import ROOT, World, at, rules_from

PROTECTED = """
groups:
  offices: {match: {use: office}}
schedules:
  offices:
    group: offices
    workday:
      - {at: "08:00", power: on, mode: cool, setpoint_c: 26}
      - {at: "18:00", power: off}
protection:
  min_on_s: 300
  min_off_s: 300
  max_starts_per_hour: 3
  changeover_delay_s: 600
  restart_stagger_s: 0
  comms_lost_s: 600
"""


@pytest.fixture
def rules(tmp_path: Path) -> RuleSet:
    return rules_from(tmp_path, PROTECTED)


def power_times(w: World, device: str) -> list[tuple[str, int]]:
    return [(t.strftime("%H:%M:%S"), int(c.value)) for t, c, ok in
            w.commands(device, "power") if ok]


def test_minimum_on_time_defers_a_stop(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "07:59"))
    w.run(at("2026-07-15", "08:01"), step_s=10)
    w.engine.add_override("ac-r101", {"power": 0}, w.t, override_id="op", duration_s=3600)
    w.run(at("2026-07-15", "08:10"), step_s=10)
    assert power_times(w, "ac-r101") == [("08:00:00", 1), ("08:05:00", 0)]
    w2 = World(rules, at("2026-07-15", "07:59"))
    w2.run(at("2026-07-15", "08:01"), step_s=10)
    w2.engine.add_override("ac-r101", {"power": 0}, w2.t, override_id="op", duration_s=3600)
    w2.tick()
    info = w2.engine.explain_unit("ac-r101", w2.t)
    assert info["decided_by"]["power"]["layer"] == "protection"
    assert "minimum on time" in info["decided_by"]["power"]["reason"]


def test_minimum_off_time_defers_a_start(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "10:00"))
    w.tick()
    w.engine.add_override("ac-r101", {"power": 0}, w.t, override_id="a", duration_s=360)
    w.run(at("2026-07-15", "10:20"), step_s=10)
    # off at 10:05 (min on from 10:00), on again not before 10:10 (min off)
    assert power_times(w, "ac-r101") == [("10:00:00", 1), ("10:05:00", 0), ("10:10:00", 1)]


def test_starts_per_hour_are_capped(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "10:00"))
    for i in range(12):
        w.run(w.t + timedelta(minutes=5), step_s=10)
        w.engine.add_override("ac-r101", {"power": i % 2}, w.t, override_id=f"o{i}",
                              duration_s=3600)
    w.run(w.t + timedelta(minutes=5), step_s=10)
    starts = [t for t, c, ok in w.commands("ac-r101", "power") if ok and c.value == 1]
    for i, t in enumerate(starts):
        window = [s for s in starts[:i + 1] if s > t - timedelta(hours=1)]
        assert len(window) <= 3, starts


def test_no_unit_switches_faster_than_its_minimum_times(rules: RuleSet) -> None:
    rng = random.Random(3)
    w = World(rules, at("2026-07-15", "07:50"))
    units = [u for u in rules.groups["offices"]]
    for i in range(400):
        if rng.random() < 0.2:
            w.engine.add_override(rng.choice(units), {"power": rng.choice([0, 1])}, w.t,
                                  override_id=f"o{i}", duration_s=rng.choice([30, 120, 900]))
        w.tick()
        w.t += timedelta(seconds=15)
    for u in units:
        switches = [(t, c.value) for t, c, ok in w.commands(u, "power") if ok]
        for (t1, _), (t2, _) in itertools.pairwise(switches):
            # min_on_s and min_off_s are both 300 s here
            assert (t2 - t1).total_seconds() >= 300, (u, switches)


def test_changeover_waits_with_the_unit_off(rules: RuleSet) -> None:
    w = World(rules, at("2026-07-15", "09:00"))
    w.run(at("2026-07-15", "09:10"), step_s=10)
    assert w.state["ac-r101"]["mode"] == 0 and w.state["ac-r101"]["power"] == 1
    w.engine.add_override("ac-r101", {"mode": 1, "setpoint_c": 20}, w.t, override_id="h",
                          duration_s=3600)
    w.run(at("2026-07-15", "09:30"), step_s=10)
    cmds = [(t.strftime("%H:%M:%S"), c.point, c.value) for t, c, ok in w.commands("ac-r101")
            if t >= at("2026-07-15", "09:10")]
    assert cmds[0] == ("09:10:00", "power", 0)                    # stop cooling first
    mode_at = next(t for t, p, v in cmds if p == "mode" and v == 1)
    assert mode_at == "09:20:00"                                   # 600 s after cooling ran
    assert ("09:20:00", "power", 1) in cmds                        # then heat
    assert w.state["ac-r101"]["mode"] == 1


def test_restart_stagger_spreads_starts_after_comms_return(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, PROTECTED.replace("restart_stagger_s: 0",
                                                   "restart_stagger_s: 120"))
    w = World(rules, at("2026-07-15", "08:00"))
    w.run(at("2026-07-15", "08:03"), step_s=1)
    starts = sorted(t for t, c, ok in w.log if c.point == "power" and c.value == 1)
    assert len(starts) == 16
    spread = (starts[-1] - starts[0]).total_seconds()
    assert 30 < spread <= 120
    assert starts[0] >= at("2026-07-15", "08:00")


def test_protection_history_functions() -> None:
    cfg = ProtectionConfig(min_on_s=300, min_off_s=300, max_starts_per_hour=2)
    h = UnitHistory()
    assert power_deferral(cfg, h, 1, 0.0) is None  # unknown history: allowed
    h.switched(0, 0.0)
    h.switched(1, 100.0)
    assert h.starts[-1] == 100.0
    assert "minimum on time" in (power_deferral(cfg, h, 0, 200.0) or "")
    assert power_deferral(cfg, h, 0, 400.0) is None
    h.switched(0, 400.0)
    h.switched(1, 800.0)
    h.switched(0, 1200.0)
    assert "starts in the last hour" in (power_deferral(cfg, h, 1, 1600.0) or "")
    assert power_deferral(cfg, h, 1, 3700.0) is None
    assert stagger_s("ac-r101", 1000.0, 120) == stagger_s("ac-r101", 1000.0, 120)
    assert 0 <= stagger_s("ac-r101", 1000.0, 120) < 120
    assert stagger_s("ac-r101", 1000.0, 0) == 0


# -- window and occupancy: a profile with a window contact and an occupancy sensor --------

SENSOR_SITE = """
site: {id: sensor-site, floor_area_m2: 100, occupants: 5}
links:
  bus: {transport: tcp, host: 127.0.0.1, port: 5020}
devices:
  ac-a: {link: bus, profile: lg-sensors, unit_id: 1, tags: {zone: a, use: office}}
  ac-b: {link: bus, profile: lg-sensors, unit_id: 2, tags: {zone: b, use: office}}
"""

SENSOR_RULES = """
schedules:
  day:
    group: all
    workday:
      - {at: "08:00", power: on, mode: cool, setpoint_c: 26}
      - {at: "18:00", power: off}
windows:
  contacts: {group: all, open_delay_s: 60, close_delay_s: 120, action: off}
occupancy:
  standby: {group: all, vacant_min: 15, occupied_s: 60, action: relax, relax_k: 2}
protection: {min_on_s: 0, min_off_s: 0, restart_stagger_s: 0}
"""


@pytest.fixture
def sensor_rules(tmp_path: Path) -> RuleSet:
    drivers = tmp_path / "drivers"
    shutil.copytree(ROOT / "drivers", drivers)
    text = (drivers / "lg-pdrycb500.yaml").read_text()
    text = text.replace("  - {table: coil, start: 0x0000, end: 0x0000}",
                        "  - {table: coil, start: 0x0000, end: 0x0000}\n"
                        "  - {table: discrete, start: 0x0000, end: 0x0001}")
    (drivers / "lg-sensors.yaml").write_text(_insert_points(text))
    (tmp_path / "site.yaml").write_text(SENSOR_SITE)
    site = load_site(tmp_path / "site.yaml", ProfileLibrary(drivers))
    return rules_from(tmp_path, SENSOR_RULES, site=site)


def _insert_points(text: str) -> str:
    """Place the two sensor points inside `points:` (before `implemented:`), once."""
    lines = [ln for ln in text.splitlines() if not ln.startswith(("  window_open:",
                                                                 "  occupied:"))]
    out = []
    for ln in lines:
        if ln.startswith("implemented:"):
            out += ["  window_open: {table: discrete, address: 0, type: bits}",
                    "  occupied: {table: discrete, address: 1, type: bits}"]
        out.append(ln)
    return "\n".join(out) + "\n"


def test_open_window_switches_off_then_hands_back(sensor_rules: RuleSet) -> None:
    w = World(sensor_rules, at("2026-07-15", "08:00"))
    for s in w.state.values():
        s.update(window_open=0, occupied=1)
    w.run(at("2026-07-15", "09:00"), step_s=10)
    assert w.state["ac-a"]["power"] == 1
    w.engine.add_override("ac-a", {"power": 1}, w.t, override_id="op", duration_s=7200)
    w.state["ac-a"]["window_open"] = 1
    w.run(at("2026-07-15", "09:00:50"), step_s=10)
    assert w.state["ac-a"]["power"] == 1             # open for less than 60 s
    w.run(at("2026-07-15", "09:02"), step_s=10)
    assert w.state["ac-a"]["power"] == 0             # window beats the override
    off = w.commands("ac-a", "power")[-1][1]
    assert off.rule == "window:contacts" and off.layer == "window"
    w.state["ac-a"]["window_open"] = 0
    w.run(at("2026-07-15", "09:03"), step_s=10)
    assert w.state["ac-a"]["power"] == 0             # close delay 120 s
    w.run(at("2026-07-15", "09:05"), step_s=10)
    assert w.state["ac-a"]["power"] == 1             # back on
    assert w.state["ac-b"]["power"] == 1             # the other room never noticed


def test_vacant_room_relaxes_then_restores(sensor_rules: RuleSet) -> None:
    w = World(sensor_rules, at("2026-07-15", "08:00"))
    for s in w.state.values():
        s.update(window_open=0, occupied=1)
    w.run(at("2026-07-15", "09:00"), step_s=30)
    w.state["ac-b"]["occupied"] = 0
    w.run(at("2026-07-15", "09:14"), step_s=30)
    assert w.state["ac-b"]["setpoint_c"] == 26.0
    w.run(at("2026-07-15", "09:16"), step_s=30)
    assert w.state["ac-b"]["setpoint_c"] == 28.0     # standby: +2 K
    relax = w.commands("ac-b", "setpoint_c")[-1][1]
    assert relax.layer == "occupancy"
    w.run(at("2026-07-15", "09:30"), step_s=30)
    assert w.state["ac-b"]["setpoint_c"] == 28.0     # stable, not compounding
    w.state["ac-b"]["occupied"] = 1
    w.run(at("2026-07-15", "09:32"), step_s=30)
    assert w.state["ac-b"]["setpoint_c"] == 26.0     # restored
