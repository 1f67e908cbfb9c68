"""Demand limit on the 15-minute window: projection, the shedding state machine on synthetic
meter traces, and the engine holding a synthetic building under its limit."""

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.control.demand import Candidate, DemandController
from gateway.control.ruleset import DemandConfig
from tests.control.ctl_world import MEETING, NO_PROTECTION, OFFICES, World, at, rules_from

T0 = at("2026-07-15", "14:00").timestamp()  # a window boundary


def cfg(**kw: object) -> DemandConfig:
    base: dict[str, object] = dict(
        meter="m", point="active_power_kw", limit_kw=30.0, deadband_kw=2.0, window_s=900.0,
        offset_s=0.0, confirm_s=60.0, pass_interval_s=60.0, max_units_per_pass=2,
        curtail_min_s=300.0, release_interval_s=120.0, release_units=1, relief_k=(1.0, 2.0),
        allow_off=True, futility_min_drop_kw=0.5, futility_passes=3, release_estimate_kw=1.0,
        meter_stale_s=60.0, classes={})
    base.update(kw)
    return DemandConfig(**base)  # type: ignore[arg-type]


def cands(n: int = 6, **margins: float) -> list[Candidate]:
    return [Candidate(f"u{i}", 1 if i < 2 else 2, True, margins.get(f"u{i}", 0.0), 1.5)
            for i in range(n)]


def feed(dc: DemandController, kw: float, start: float, seconds: float, step: float = 10):
    """Meter readings every ``step`` s (no control passes); returns the time after."""
    t = start
    while t < start + seconds:
        dc.observe(t, kw)
        t += step
    return t


def drive(dc: DemandController, kw: float, start: float, seconds: float, pool=None,
          active: bool = True, step: float = 10) -> tuple[float, list]:
    """Meter readings and a control pass every ``step`` s, as the engine does each tick."""
    t, actions = start, []
    while t < start + seconds:
        dc.observe(t, kw)
        actions += dc.step(t, active, pool or cands)
        t += step
    return t, actions


def test_projection_of_the_window_end() -> None:
    dc = DemandController(cfg())
    feed(dc, 40.0, T0, 300)
    assert dc.projection(T0 + 300) == pytest.approx(40.0)
    dc.observe(T0 + 300, 20.0)
    # 5 min at 40 kW, then 20 kW held to the end of the window
    assert dc.projection(T0 + 300) == pytest.approx((40 * 300 + 20 * 600) / 900)
    feed(dc, 20.0, T0 + 310, 600)
    dc.observe(T0 + 910, 20.0)
    start, avg = dc.completed[-1]
    assert start == T0 and avg == pytest.approx((40 * 300 + 20 * 600) / 900)


def test_window_alignment_with_an_offset() -> None:
    dc = DemandController(cfg(offset_s=300.0))
    assert dc.window_start(dc.window_of(T0 + 100)) == T0 - 600
    assert dc.window_start(dc.window_of(T0 + 400)) == T0 + 300


def test_confirm_time_then_a_capped_pass() -> None:
    dc = DemandController(cfg())
    t, actions = drive(dc, 35.0, T0, 60)
    assert actions == []                               # over, not yet for confirm_s
    t, actions = drive(dc, 35.0, t, 10)
    assert [a.unit for a in actions] == ["u0", "u1"]   # class 1 first, capped at 2
    assert all(a.after == 1 for a in actions)
    t, actions = drive(dc, 34.0, t, 50)
    assert actions == []                               # not before pass_interval_s
    t, actions = drive(dc, 33.0, t, 10)
    assert [a.unit for a in actions] == ["u2", "u3"]   # the lowest level goes first


def test_shed_order_by_margin_then_load() -> None:
    dc = DemandController(cfg(max_units_per_pass=3))
    pool = [Candidate("warm", 1, True, -1.0, 2.0), Candidate("cool", 1, True, 1.5, 1.0),
            Candidate("big", 1, True, 0.0, 3.0), Candidate("small", 1, True, 0.0, 0.5),
            Candidate("off", 1, False, 3.0, 1.0)]
    _, actions = drive(dc, 40.0, T0, 70, lambda: pool)
    assert [a.unit for a in actions] == ["cool", "big", "small"]


def test_levels_relief_then_off() -> None:
    dc = DemandController(cfg(max_units_per_pass=1, futility_passes=99))
    pool = [Candidate("u0", 1, True, 0.0, 1.0)]
    _, actions = drive(dc, 40.0, T0, 300, lambda: pool)
    assert [a.after for a in actions] == [1, 2, 3]  # +1 K, +2 K, off; then nothing left
    assert dc.cfg.max_level == 3


def test_futility_guard_stops_shedding_until_the_next_window() -> None:
    dc = DemandController(cfg(max_units_per_pass=1))
    t, actions = drive(dc, 40.0, T0, 500)  # the meter does not move
    assert dc.futile
    assert len(actions) == 3  # three passes without a response, then it stops
    t, actions = drive(dc, 40.0, t, T0 + 900 - t + 70)  # the next window
    assert not dc.futile and actions


def test_meter_that_responds_is_not_futile() -> None:
    dc = DemandController(cfg(max_units_per_pass=1))
    kw, t = 40.0, T0
    for _ in range(50):
        t, actions = drive(dc, kw, t, 10)
        kw -= 1.0 * len(actions)
    assert not dc.futile and len(dc.levels) >= 5


def test_staggered_release_after_the_curtail_time() -> None:
    dc = DemandController(cfg(max_units_per_pass=3))
    t, actions = drive(dc, 40.0, T0, 70)
    assert len(actions) == 3
    t, actions = drive(dc, 20.0, t, 290)
    assert actions == []                          # under, but curtailed < 300 s
    t, actions = drive(dc, 20.0, t, 10, lambda: cands(u2=-2.0))
    assert [a.unit for a in actions] == ["u2"]    # least comfortable first
    t, actions = drive(dc, 20.0, t, 110)
    assert actions == []                          # stagger: one per release_interval_s
    t, actions = drive(dc, 20.0, t, 10)
    assert len(actions) == 1


def test_no_release_inside_the_deadband() -> None:
    dc = DemandController(cfg(max_units_per_pass=3, curtail_min_s=0))
    t, actions = drive(dc, 40.0, T0, 70)
    assert len(actions) == 3
    t, actions = drive(dc, 29.0, t, 1800)   # under the limit, but inside the 2 kW deadband
    assert actions == [] and len(dc.levels) == 3


def test_inactive_releases_everything() -> None:
    dc = DemandController(cfg(max_units_per_pass=3))
    t, _ = drive(dc, 40.0, T0, 70)
    _, actions = drive(dc, 40.0, t, 10, active=False)
    assert len(actions) == 3 and not dc.levels


def test_stale_meter_holds() -> None:
    dc = DemandController(cfg())
    t, _ = drive(dc, 40.0, T0, 70)
    assert len(dc.levels) == 2
    assert dc.step(t + 120, True, cands) == [] and dc.projection(t + 120) is None
    assert len(dc.levels) == 2


# -- the engine against a synthetic building ------------------------------------------

RULES = """
groups:
  offices: {match: {use: office}}
  meeting: {match: {use: meeting}}
schedules:
  on:
    group: all
    except: [ac-srv201]
    workday: [{at: "08:00", power: on, mode: cool, setpoint_c: 26}]
demand:
  meter: main-meter
  limit_kw: 30
  deadband_kw: 1.5
  max_units_per_pass: 3
  curtail_s: 600
  shed:
    - {group: meeting, class: 1}
    - {group: offices, class: 2}
"""


def building_kw(w: World) -> float:
    """20 kW base + 1.2 kW per cooling unit, minus 0.35 kW per K above 26 °C."""
    kw = 20.0
    for u, s in w.state.items():
        if s["power"] == 1 and u != "ac-srv201":
            kw += max(0.2, 1.2 - 0.35 * (s["setpoint_c"] - 26.0))
    return kw


def test_engine_holds_the_limit_within_the_deadband(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, RULES, extra=NO_PROTECTION)
    w = World(rules, at("2026-07-15", "08:00"))
    w.run(at("2026-07-15", "08:01"), step_s=10)
    assert building_kw(w) > 40  # every unit on: far above the limit
    end = at("2026-07-15", "10:00")
    while w.t < end:
        w.meter_kw = building_kw(w)
        w.tick()
        w.t += timedelta(seconds=10)
    dc = w.engine.demand
    assert dc is not None and dc.shed_started is not None
    windows = [avg for start, avg in dc.completed if start >= dc.shed_started + 900]
    assert len(windows) >= 5
    assert max(windows) <= 30 + 1.5, windows
    # meeting rooms (class 1) were shed before offices (class 2), and relief came before off
    notices = [n for n in w.notices if n.rule == "demand"]
    first = [n.device for n in notices[:3]]
    assert set(first) == set(MEETING)
    offs = [c for _, c, _ in w.log if c.rule == "demand" and c.point == "power"]
    reliefs = [c for _, c, _ in w.log if c.rule == "demand" and c.point == "setpoint_c"]
    assert reliefs and (not offs or w.log.index(next(x for x in w.log if x[1] is reliefs[0]))
                        < w.log.index(next(x for x in w.log if x[1] is offs[0])))
    assert all(c.value <= 28 for c in reliefs)  # +1 K, +2 K on 26 °C
    assert "ac-srv201" not in {c.device for _, c, _ in w.log if c.rule == "demand"}
    assert {c.device for c in offs} <= set(MEETING + OFFICES)


def test_demand_beats_an_override_and_releases_back_to_the_schedule(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, RULES.replace("max_units_per_pass: 3",
                                               "max_units_per_pass: 20\n  relief_k: []"),
                       extra=NO_PROTECTION)
    w = World(rules, at("2026-07-15", "08:00"))
    w.tick()
    w.engine.add_override("ac-m101", {"power": 1, "setpoint_c": 27}, w.t, override_id="op",
                          duration_s=7200)
    w.meter_kw = 45.0
    w.run(at("2026-07-15", "08:03"), step_s=10)
    assert w.state["ac-m101"]["power"] == 0          # shed despite the override
    info = w.engine.explain_unit("ac-m101", w.t)
    assert any(o["layer"] == "demand" for o in info["opinions"])
    w.meter_kw = 15.0
    w.run(at("2026-07-15", "09:30"), step_s=10)
    assert not w.engine.demand.levels                # type: ignore[union-attr]
    assert w.state["ac-m101"]["power"] == 1          # the override holds again
    assert w.state["ac-m101"]["setpoint_c"] == 27
    assert w.state["ac-r101"]["power"] == 1          # back to the schedule's step


# --- the projection's arithmetic, exactly (edges that survived make mutation) ---

def test_the_projection_holds_the_present_power_to_the_windows_end() -> None:
    dc = DemandController(cfg())
    assert dc.projection(T0) is None  # no reading yet
    dc.observe(T0, 20.0)
    dc.observe(T0 + 300, 40.0)  # 300 s at 20 kW so far, now 40 kW
    assert dc.projection(T0 + 300) == pytest.approx((20 * 300 + 40 * 600) / 900)
    assert dc.projection(T0 + 360) == pytest.approx((20 * 300 + 40 * 600) / 900)
    assert dc.projection(T0 + 300 + 60) is not None  # exactly meter_stale_s old: still fresh
    assert dc.projection(T0 + 300 + 61) is None  # older: stale, no projection
    assert dc.remaining_fraction(T0 + 300) == pytest.approx(600 / 900)
    assert dc.remaining_fraction(T0 + 900) == pytest.approx(1.0)  # a new window begins


def test_a_reading_at_the_same_time_is_ignored_and_windows_close_exactly() -> None:
    dc = DemandController(cfg())
    dc.observe(T0, 10.0)
    dc.observe(T0, 99.0)  # the same instant again: not a new reading
    assert dc.last_kw == 10.0
    dc.observe(T0 + 900, 30.0)  # exactly the window's end
    assert list(dc.completed) == [(T0, 10.0)]
    assert dc.window_index == dc.window_of(T0 + 900) and dc.window_energy_kws == 0.0
    dc.observe(T0 + 1800 + 450, 30.0)
    assert list(dc.completed)[-1] == (T0 + 900, 30.0)
    assert dc.window_energy_kws == pytest.approx(30.0 * 450)


def test_shed_and_release_thresholds_are_strict() -> None:
    """Exactly at the limit is not over it; exactly at limit - deadband is not under it."""
    dc = DemandController(cfg(confirm_s=0.0))
    dc.observe(T0, 30.0)  # projection exactly 30 kW = limit
    assert dc.step(T0 + 10, True, cands) == [] and dc.over_since is None
    dc2 = DemandController(cfg(confirm_s=0.0, release_estimate_kw=0.0), levels={"u0": 1},
                           since={"u0": T0 - 3600})
    dc2.observe(T0, 28.0)  # exactly limit - deadband: not under, nothing released
    assert dc2.step(T0 + 10, True, cands) == [] and dc2.levels == {"u0": 1}


def test_an_inactive_limit_releases_every_curtailed_unit_saying_so() -> None:
    dc = DemandController(cfg(), levels={"u1": 2, "u0": 1}, since={"u0": T0, "u1": T0})
    dc.observe(T0, 50.0)
    actions = dc.step(T0 + 10, False, cands)
    assert [(a.unit, a.before, a.after, a.reason) for a in actions] == [
        ("u0", 1, 0, "demand control inactive: released"),
        ("u1", 2, 0, "demand control inactive: released")]
    assert dc.levels == {} and dc.since == {} and dc.over_since is None


def releaser(**levels: int) -> DemandController:
    """Curtailed long enough ago, a flat 20 kW meter at a window's start (28 kW is the
    release threshold): the release pass is due at T0 + 10."""
    dc = DemandController(cfg(confirm_s=0.0, release_units=3), levels=dict(levels),
                          since={u: T0 - 3600 for u in levels})
    dc.observe(T0, 20.0)
    return dc


def test_release_takes_the_deepest_and_least_comfortable_within_the_room() -> None:
    """Room 8 kW with 890 s of 900 left: an off unit adds its whole load over the rest of the
    window (4.0 × 890/900 kW), a relieved one 30 % of it; the deepest level first, then the
    least comfortable (lowest margin); three units a pass."""
    dc = releaser(u0=1, u1=3, u2=1, u3=2)
    margins = {"u0": 0.5, "u1": 0.0, "u2": -1.0, "u3": 0.0}
    pool = [Candidate(u, 1, True, m, 4.0) for u, m in margins.items()]
    actions = dc.step(T0 + 10, True, lambda: pool)
    frac = 890 / 900
    assert [(a.unit, a.before, a.after) for a in actions] == [("u1", 3, 0), ("u3", 2, 0),
                                                              ("u2", 1, 0)]
    assert 4.0 * frac + 2 * 4.0 * frac * 0.3 < 8.0  # all three fit the 8 kW of room
    assert all(a.reason == "projected 20.0 kW < 28 kW: released (staggered)" for a in actions)
    assert dc.levels == {"u0": 1} and dc.last_release == T0 + 10


def test_release_stops_at_the_first_unit_that_does_not_fit() -> None:
    dc = releaser(u0=3, u1=1)
    pool = [Candidate("u0", 1, True, 0.0, 9.0), Candidate("u1", 1, True, 0.0, 1.0)]
    assert dc.step(T0 + 10, True, lambda: pool) == []  # u0 (9 kW off) first, and it won't fit
    assert dc.levels == {"u0": 3, "u1": 1} and dc.last_release == -float("inf")


def test_a_unit_without_a_candidate_is_released_on_the_estimate() -> None:
    dc = releaser(gone=3)
    actions = dc.step(T0 + 10, True, lambda: [])
    assert [(a.unit, a.after) for a in actions] == [("gone", 0)]  # 1 kW estimate fits
    assert dc.levels == {} and dc.last_pass is None and dc.futile_count == 0


def test_forget_drops_units_no_longer_sheddable() -> None:
    dc = DemandController(cfg(), levels={"a": 1, "b": 2}, since={"a": T0, "b": T0})
    dc.forget({"b", "c"})
    assert dc.levels == {"b": 2} and dc.since == {"b": T0}
