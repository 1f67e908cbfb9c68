"""The allocator alone: budget from the window, circuits, minimum or pause, priority, fair
share, ramp, idle connectors at 0, uncontrollable load first; and the fail-safe shares."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.chargers import ChargerConfig, CircuitConfig
from gateway.ev.allocator import ConnectorDemand, allocate, charging_budget_kw
from gateway.ev.failsafe import failsafe_shares

CIRCUITS = {"park": CircuitConfig(max_kw=100), "row": CircuitConfig(max_kw=30, parent="park")}


def d(name: str, circuit: str = "park", *, priority: int = 0, min_kw: float = 4.0,
      max_kw: float = 11.0, plugged: bool = True, controllable: bool = True,
      measured_kw: float = 0.0, last_kw: float | None = 11.0, need_kw: float | None = None,
      deferred: bool = False) -> ConnectorDemand:
    return ConnectorDemand(name, 1, circuit, priority, min_kw, max_kw, plugged, controllable,
                           measured_kw, last_kw, need_kw, deferred)


def test_budget_is_the_window_left_and_never_above_the_instantaneous_room() -> None:
    # limit 100 - margin 5: 95 kW average over 900 s; half way, 90 kW·s/s so far
    kw = charging_budget_kw(limit_kw=100, margin_kw=5, window_s=900, elapsed_s=450,
                            energy_kws=90 * 450, non_ev_kw=60)
    assert kw == pytest.approx(35.0)  # the window has 5 kW spare, but instantaneous caps
    over = charging_budget_kw(limit_kw=100, margin_kw=5, window_s=900, elapsed_s=450,
                              energy_kws=110 * 450, non_ev_kw=60)
    assert over == pytest.approx(95 * 2 - 110 - 60)  # 20: pay back the first half
    assert charging_budget_kw(limit_kw=100, margin_kw=5, window_s=900, elapsed_s=450,
                              energy_kws=150 * 450, non_ev_kw=60) == 0.0


def test_fair_share_within_the_budget() -> None:
    a = allocate([d("a"), d("b"), d("c")], 24.0, CIRCUITS, ramp_kw=11)
    assert [a.limits[(n, 1)] for n in "abc"] == pytest.approx([8.0, 8.0, 8.0])


def test_each_gets_its_minimum_or_pauses() -> None:
    a = allocate([d("a"), d("b"), d("c")], 9.0, CIRCUITS, ramp_kw=11)
    granted = [k for k, kw in a.limits.items() if kw > 0]
    assert len(granted) == 2 and a.paused == (("c", 1),)
    assert all(kw == 0 or kw >= 4.0 for kw in a.limits.values())


def test_priority_fills_first() -> None:
    a = allocate([d("fleet", priority=10), d("b"), d("c")], 20.0, CIRCUITS, ramp_kw=11)
    assert a.limits[("fleet", 1)] == pytest.approx(11.0)
    assert a.limits[("b", 1)] == pytest.approx(4.5)


def test_circuit_limit_holds() -> None:
    demands = [d(f"r{i}", "row") for i in range(4)] + [d("x")]
    a = allocate(demands, 200.0, CIRCUITS, ramp_kw=11)
    assert sum(a.limits[(f"r{i}", 1)] for i in range(4)) == pytest.approx(30.0)
    assert a.limits[("x", 1)] == pytest.approx(11.0)


def test_ramp_limits_the_rise_and_a_new_session_starts_low() -> None:
    a = allocate([d("new", last_kw=None), d("idle", last_kw=0.0, min_kw=6.0),
                  d("up", last_kw=4.0, max_kw=22.0)], 100.0, CIRCUITS, ramp_kw=5)
    assert a.limits[("new", 1)] == pytest.approx(5.0)  # from nothing: one ramp step
    assert a.limits[("idle", 1)] == pytest.approx(6.0)  # or its minimum, if that is more
    assert a.limits[("up", 1)] == pytest.approx(9.0)


def test_idle_connectors_hold_zero_and_uncontrollable_load_comes_off_first() -> None:
    a = allocate([d("idle", plugged=False), d("dumb", controllable=False, measured_kw=20.0),
                  d("a")], 25.0, CIRCUITS, ramp_kw=11)
    assert a.limits[("idle", 1)] == 0.0
    assert ("dumb", 1) not in a.limits
    assert a.uncontrolled_kw == 20.0
    assert a.limits[("a", 1)] == pytest.approx(4.0 + 1.0)  # 25 - 20 = 5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["park", "row"]), st.integers(0, 2),
                          st.floats(1, 6), st.floats(6, 60), st.booleans(),
                          st.one_of(st.none(), st.floats(0, 60))), max_size=25),
       st.floats(0, 300))
def test_never_over_budget_or_circuit(rows: list[tuple[str, int, float, float, bool,
                                                       float | None]], budget: float) -> None:
    demands = [ConnectorDemand(f"c{i}", 1, circuit, prio, lo, hi, plugged, True, 0.0, last)
               for i, (circuit, prio, lo, hi, plugged, last) in enumerate(rows)]
    a = allocate(demands, budget, CIRCUITS, ramp_kw=11)
    assert sum(a.limits.values()) <= budget + 1e-6
    row = sum(kw for (name, _), kw in a.limits.items()
              if demands[int(name[1:])].circuit == "row")
    assert row <= 30 + 1e-6 and sum(a.limits.values()) <= 100 + 1e-6
    for dem in demands:
        kw = a.limits[dem.key]
        assert kw == 0 or dem.min_kw - 1e-6 <= kw <= max(dem.max_kw, dem.min_kw) + 1e-6


def charger(**kw: object) -> ChargerConfig:
    base: dict[str, object] = {"circuit": "park", "ac": {"phases": 3, "max_current_a": 16}}
    base.update(kw)
    return ChargerConfig.model_validate(base)


def test_failsafe_shares_add_up_to_the_budget_less_the_unsteerable() -> None:
    chargers = {"a": charger(), "b": charger(), "dc": charger(ac=None, dc={"max_power_kw": 30}),
                "dumb": charger()}
    plan = failsafe_shares(chargers, {"a", "b", "dc"}, failsafe_kw=40.0)
    assert plan.unsteerable_kw == pytest.approx(10.56)
    assert sum(plan.shares.values()) <= 40.0 - 10.56 + 1e-6
    assert plan.shares["dc"] > plan.shares["a"] > 3.96 and not plan.over_budget


def test_a_share_below_the_minimum_is_zero_and_over_budget_is_said() -> None:
    chargers = {f"c{i}": charger() for i in range(5)}
    plan = failsafe_shares(chargers, {"c0", "c1"}, failsafe_kw=36.0)
    assert not plan.over_budget and plan.shares == {"c0": 0.0, "c1": 0.0}  # 2.16 kW each
    plan = failsafe_shares(chargers, {"c0", "c1"}, failsafe_kw=30.0)
    assert plan.over_budget and plan.shares == {"c0": 0.0, "c1": 0.0}


# -- departures (charging_rules.plan sets need_kw) and the valley wait --------------------


def test_a_departure_gets_its_need_before_the_fair_share() -> None:
    a = allocate([d("fleet", need_kw=9.0), d("b"), d("c")], 20.0, CIRCUITS, ramp_kw=11)
    assert a.limits[("fleet", 1)] >= 9.0 - 1e-6
    assert sum(a.limits.values()) == pytest.approx(20.0)
    # without the departure the three would share equally (6.67 kW each)
    fair = allocate([d("fleet"), d("b"), d("c")], 20.0, CIRCUITS, ramp_kw=11)
    assert fair.limits[("fleet", 1)] == pytest.approx(20.0 / 3)


def test_a_car_waiting_for_the_valley_holds_zero_and_is_reported() -> None:
    a = allocate([d("wait", deferred=True), d("b")], 30.0, CIRCUITS, ramp_kw=11)
    assert a.limits[("wait", 1)] == 0.0 and a.deferred == (("wait", 1),)
    assert a.limits[("b", 1)] == pytest.approx(11.0) and a.paused == ()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["park", "row"]), st.integers(0, 2),
                          st.floats(1, 6), st.floats(6, 60),
                          st.one_of(st.none(), st.floats(0, 60)), st.booleans()),
                min_size=1, max_size=20),
       st.floats(0, 300))
def test_departures_never_break_the_budget_and_are_met_when_feasible(
        rows: list[tuple[str, int, float, float, float | None, bool]], budget: float) -> None:
    demands = [ConnectorDemand(f"c{i}", 1, circuit, prio, lo, hi, True, True, 0.0, hi,
                               need_kw=None if need is None else min(need, hi), deferred=wait)
               for i, (circuit, prio, lo, hi, need, wait) in enumerate(rows)]
    a = allocate(demands, budget, CIRCUITS, ramp_kw=11)
    assert sum(a.limits.values()) <= budget + 1e-6
    row = sum(a.limits[dem.key] for dem in demands if dem.circuit == "row")
    assert row <= 30 + 1e-6 and sum(a.limits.values()) <= 100 + 1e-6
    for dem in demands:
        kw = a.limits[dem.key]
        assert kw == 0 or dem.min_kw - 1e-6 <= kw <= dem.max_kw + 1e-6
        if dem.deferred:
            assert kw == 0
    # feasible: every charging car's minimum and every departure's need fit the budget and
    # the circuits at once — then each departure gets at least its need
    active = [dem for dem in demands if not dem.deferred]
    wants = {dem.key: max(dem.min_kw, dem.need_kw or 0.0) if dem.need_kw is not None
             else dem.min_kw for dem in active}
    in_row = sum(w for dem in active for k, w in wants.items()
                 if k == dem.key and dem.circuit == "row")
    if sum(wants.values()) <= min(budget, 100) and in_row <= 30:
        for dem in active:
            if dem.need_kw is not None:
                assert a.limits[dem.key] >= max(dem.need_kw, dem.min_kw) - 1e-6, (dem, a)
