"""The demand limiter's edges that its scenario tests (test_demand.py) leave open: the futility
guard's counting, the reasons an operator reads, the release arithmetic late in a window,
the last second of a window, and the chargers' view of the window. Each pins a small
plausible bug that `make mutation` found surviving (docs/testing.md)."""

from __future__ import annotations

import pytest

from gateway.control.demand import Candidate, DemandController
from tests.control.test_demand import T0, cands, cfg, drive, feed


def one_unit(margin: float = 0.0, load: float = 1.0) -> list[Candidate]:
    return [Candidate("u0", 1, True, margin, load)]


def shed_passes(dc: DemandController, kws: list[float], start: float,
                pool: list[Candidate] | None = None) -> tuple[float, list[int]]:
    """One shed pass per meter value (60 s apart, confirm_s and pass_interval_s 60 s):
    how many units each pass shed."""
    t, shed = start, []
    for kw in kws:
        t, actions = drive(dc, kw, t, 60, (lambda: pool) if pool else None)
        shed.append(len(actions))
    return t, shed


# -- the futility guard -------------------------------------------------------------

def test_a_drop_of_exactly_the_minimum_is_a_response() -> None:
    dc = DemandController(cfg(max_units_per_pass=1, futility_min_drop_kw=0.5))
    _, shed = shed_passes(dc, [40.0, 40.0, 39.5, 39.0, 38.5, 38.0, 37.5], T0)
    assert shed == [0, 1, 1, 1, 1, 1, 1] and not dc.futile  # never three misses


def test_a_response_starts_the_count_of_misses_again() -> None:
    """Passes without a response, one with, two without: two in a row, not more."""
    dc = DemandController(cfg(max_units_per_pass=1, futility_passes=3))
    _, shed = shed_passes(dc, [40.0, 40.0, 40.0, 40.0, 38.0, 38.0, 38.0], T0)
    assert shed == [0, 1, 1, 1, 1, 1, 1] and not dc.futile and dc.futile_count == 2


def test_the_guard_judges_the_meter_not_the_projection() -> None:
    """Late in the window a 1 kW drop of the meter moves the projection by less than the
    0.5 kW minimum (a third of the window is left); the units did respond."""
    dc = DemandController(cfg(max_units_per_pass=1, futility_min_drop_kw=0.5))
    t = feed(dc, 40.0, T0, 600)
    _, shed = shed_passes(dc, [40.0, 40.0, 39.0, 38.0, 37.0], t)
    assert shed == [0, 1, 1, 1, 1] and not dc.futile


def test_after_everything_was_released_the_guard_counts_from_zero() -> None:
    """A miss, the limit switched off (all released), on again in the same window: the
    first pass has nothing to judge and is not counted as a miss."""
    dc = DemandController(cfg(max_units_per_pass=1))
    t, shed = shed_passes(dc, [40.0, 40.0, 40.0], T0)
    assert shed == [0, 1, 1] and dc.futile_count == 1
    t, released = drive(dc, 40.0, t, 10, active=False)
    assert len(released) == 2 and not dc.levels
    _, shed = shed_passes(dc, [40.0, 40.0, 40.0], t)
    assert shed == [0, 1, 1] and not dc.futile


def test_a_release_pass_of_the_last_unit_resets_the_guard() -> None:
    """Shed with one miss, everything released under the limit, over again: the guard
    starts from zero, so three more passes shed before it gives up (not two)."""
    dc = DemandController(cfg(max_units_per_pass=1, curtail_min_s=0.0,
                              release_interval_s=0.0, release_units=5))
    t, shed = shed_passes(dc, [40.0, 40.0, 40.0], T0)
    assert shed == [0, 1, 1] and dc.futile_count == 1
    t, released = drive(dc, 10.0, t, 70)
    assert len(released) == 2 and not dc.levels and dc.futile_count == 0
    _, shed = shed_passes(dc, [40.0] * 5, t)
    assert shed == [0, 1, 1, 1, 0] and dc.futile


def test_a_quiet_start_then_over_the_limit_sheds() -> None:
    """Under the threshold with nothing curtailed (release passes with nothing to release),
    then over it: shedding starts as from a fresh start."""
    dc = DemandController(cfg(max_units_per_pass=1))
    t, actions = drive(dc, 10.0, T0, 300)
    assert actions == []
    _, shed = shed_passes(dc, [60.0, 60.0], t)
    assert shed == [0, 1]


# -- what each action says ----------------------------------------------------------

def test_each_level_says_what_it_does() -> None:
    dc = DemandController(cfg(max_units_per_pass=1, futility_passes=99))
    _, actions = drive(dc, 40.0, T0, 300, lambda: one_unit(margin=1.25))
    assert [(a.before, a.after, a.reason) for a in actions] == [
        (0, 1, "projected 40.0 kW > limit 30 kW: level 1 (setpoint relief +1 K), class 1, "
               "margin +1.2 K"),
        (1, 2, "projected 40.0 kW > limit 30 kW: level 2 (setpoint relief +2 K), class 1, "
               "margin +1.2 K"),
        (2, 3, "projected 40.0 kW > limit 30 kW: level 3 (off), class 1, margin +1.2 K")]


def test_the_projection_a_step_used_is_kept_for_the_status() -> None:
    dc = DemandController(cfg())
    dc.observe(T0, 20.0)
    dc.observe(T0 + 300, 40.0)
    dc.step(T0 + 300, True, cands)
    assert dc.projected_kw == pytest.approx((20 * 300 + 40 * 600) / 900)


# -- release ------------------------------------------------------------------------

def late_releaser(levels: dict[str, int], **kw: object) -> DemandController:
    """Curtailed long ago; a flat 20 kW meter read until T0 + 440: at T0 + 450 half the
    window is left and the room below the 28 kW threshold is 8 kW."""
    settings: dict[str, object] = dict(confirm_s=0.0, release_units=3)
    settings.update(kw)
    dc = DemandController(cfg(**settings), levels=dict(levels),
                          since={u: T0 - 3600 for u in levels})
    for t in range(0, 450, 10):
        dc.observe(T0 + t, 20.0)
    return dc


def test_late_in_the_window_a_unit_adds_its_load_for_the_time_left() -> None:
    """Off: its whole load × ½ (10 kW → 5); relieved: 30 % of that (10 kW → 1.5)."""
    dc = late_releaser({"off": 3, "relieved": 1})
    pool = [Candidate("off", 1, True, 0.0, 10.0), Candidate("relieved", 1, True, 0.0, 10.0)]
    actions = dc.step(T0 + 450, True, lambda: pool)
    assert [a.unit for a in actions] == ["off", "relieved"]  # 5 + 1.5 of the 8 kW of room


def test_a_unit_that_fills_the_room_exactly_is_released() -> None:
    dc = late_releaser({"off": 3})
    actions = dc.step(T0 + 450, True, lambda: [Candidate("off", 1, True, 0.0, 16.0)])
    assert [a.unit for a in actions] == ["off"]  # 16 × ½ = 8 kW: the room, not over it


def test_each_release_uses_up_the_room() -> None:
    dc = late_releaser({"a": 3, "b": 3})
    pool = [Candidate(u, 1, True, 0.0, 10.0) for u in ("a", "b")]
    actions = dc.step(T0 + 450, True, lambda: pool)
    assert [a.unit for a in actions] == ["a"]  # 5 of 8 kW; b's 5 no longer fit in 3
    assert dc.levels == {"b": 3}


def test_a_unit_without_a_candidate_counts_as_neither_warm_nor_cool() -> None:
    """Released in comfort order: -1 K, the unit that left the candidates (margin 0), +0.5 K."""
    dc = late_releaser({"warm": 1, "gone": 1, "cool": 1}, release_units=1,
                       release_interval_s=0.0)
    pool = [Candidate("warm", 1, True, -1.0, 1.0), Candidate("cool", 1, True, 0.5, 1.0)]
    order = []
    for t in (450, 460, 470):
        dc.observe(T0 + t, 20.0)
        order += [a.unit for a in dc.step(T0 + t, True, lambda: pool)]
    assert order == ["warm", "gone", "cool"]


def test_release_waits_for_confirm_s_under_the_threshold() -> None:
    dc = late_releaser({"u0": 1}, confirm_s=60.0)
    assert dc.step(T0 + 450, True, lambda: []) == []  # under since now
    for t in range(450, 510, 10):
        dc.observe(T0 + t, 20.0)
    assert dc.step(T0 + 500, True, lambda: []) == []  # 50 s under
    dc.observe(T0 + 510, 20.0)
    assert [a.unit for a in dc.step(T0 + 510, True, lambda: [])] == ["u0"]


@pytest.mark.parametrize("kw", [28.0, 29.0, 31.0])
def test_not_under_the_threshold_nothing_is_released_even_if_it_would_fit(kw: float) -> None:
    """limit 30 - deadband 2 = 28 kW: exactly at it, inside the deadband or above the
    limit, nothing is released, even a unit whose estimated load is nothing."""
    dc = DemandController(cfg(confirm_s=0.0, release_estimate_kw=0.0, curtail_min_s=0.0),
                          levels={"gone": 1}, since={"gone": T0 - 3600})
    dc.observe(T0, kw)
    dc.step(T0 + 10, True, lambda: [])
    assert dc.levels == {"gone": 1} and dc.under_since is None


# -- the last second of a window, and the chargers' view ---------------------------------

def test_the_last_second_of_a_window_holds_the_power_for_what_is_left_of_it() -> None:
    dc = DemandController(cfg())
    dc.observe(T0, 20.0)
    dc.observe(T0 + 899, 40.0)
    assert dc.projection(T0 + 899.5) == pytest.approx((20 * 899 + 40 * 1.0) / 900)
    assert dc.remaining_fraction(T0 + 899.5) == pytest.approx(0.5 / 900)


def test_a_projection_across_a_window_boundary_closes_the_window() -> None:
    dc = DemandController(cfg())
    dc.observe(T0, 20.0)
    dc.observe(T0 + 870, 40.0)
    assert dc.projection(T0 + 910) == pytest.approx(40.0)  # no reading since T0 + 870
    assert list(dc.completed) == [(T0, pytest.approx((20 * 870 + 40 * 30) / 900))]


def test_the_chargers_see_the_window_so_far() -> None:
    dc = DemandController(cfg())
    assert dc.window_so_far(T0) is None  # no reading yet
    dc.observe(T0 + 100, 20.0)
    dc.observe(T0 + 400, 40.0)
    seconds, energy, kw = dc.window_so_far(T0 + 430) or (0.0, 0.0, 0.0)
    assert (seconds, kw) == (430.0, 40.0)
    assert energy == pytest.approx(20 * 300 + 40 * 30)  # from the first reading on
    assert dc.window_so_far(T0 + 400) == (400.0, 20 * 300, 40.0)  # at a reading's instant
    assert dc.window_so_far(T0 + 400 + 61) is None  # the meter went stale
