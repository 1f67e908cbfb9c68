"""2R2C room: direction and size of temperature changes, integration accuracy, scaling."""

import itertools
from datetime import datetime, timedelta

import pytest

from simulators.physics import (
    Building,
    BuildingSpec,
    DayKind,
    Room,
    RoomParams,
    RoomSpec,
    RoomState,
    UnitSpec,
)

SUMMER_DAY = datetime(2025, 7, 15)


def office(weather: str, mode: str = "cool", setpoint_c: float = 26.0) -> Building:
    """One 30 m² office with one inverter unit, switched off (and its occupants
    leave it so)."""
    unit = UnitSpec("u1", mode=mode, setpoint_c=setpoint_c)
    spec = BuildingSpec(
        rooms=[RoomSpec("r1", "office", 30.0, units=[unit])], weather=weather, seed=7,
        occupant_reaction=None,
    )
    return Building(spec)


def run(b: Building, start: datetime, hours: float, day: DayKind = DayKind.WORKDAY) -> list[float]:
    """Step a building at 60 s; return the air temperature at the end of every hour."""
    temps = []
    t = start
    for k in range(1, round(hours * 60) + 1):
        b.step(60.0, t, day)
        t += timedelta(seconds=60)
        if k % 60 == 0:
            temps.append(b.room("r1").t_air_c)
    return temps


def test_summer_room_warms_with_unit_off_and_cools_with_it_on() -> None:
    off, on = office("wuhan-summer-hot"), office("wuhan-summer-hot")
    run(off, SUMMER_DAY, 8)
    run(on, SUMMER_DAY, 8)
    start = off.room("r1").t_air_c
    assert 28.0 <= start <= 31.0  # a summer morning building
    assert on.room("r1").t_air_c == start

    on.unit("u1").power = True
    t8 = SUMMER_DAY + timedelta(hours=8)
    temps_on = run(on, t8, 2)
    temps_off = run(off, t8, 2)
    assert temps_on[-1] == pytest.approx(26.0, abs=1.0)  # pulled down within 2 h
    assert temps_on[-1] < start - 2.0
    assert temps_off[-1] > start  # warms with sun and people
    assert temps_off[-1] - temps_on[-1] > 4.0
    assert 0.3 < on.unit("u1").power_kw < 1.6  # a 3.5 kW unit at a plausible COP

    # Keep going into the afternoon: off stays hot, on holds the setpoint.
    temps_on += run(on, t8 + timedelta(hours=2), 6)
    temps_off += run(off, t8 + timedelta(hours=2), 6)
    assert all(t > 30.0 for t in temps_off[4:])  # 12:00 .. 16:00
    assert max(temps_off) < 45.0
    assert all(abs(t - 26.0) < 0.6 for t in temps_on[2:])
    assert on.room("r1").t_mass_c > on.room("r1").t_air_c  # structure still soaking heat


def test_winter_room_cools_with_heater_off_and_heats_toward_20_with_it_on() -> None:
    day = datetime(2025, 1, 15)
    off = office("wuhan-winter-cold")
    on = office("wuhan-winter-cold", mode="heat", setpoint_c=20.0)
    night = run(off, day, 7, DayKind.OFF_DAY)
    run(on, day, 7, DayKind.OFF_DAY)
    start = off.room("r1").t_air_c
    assert 4.0 <= start <= 14.0  # an unheated Wuhan office on a winter morning
    assert all(b < a for a, b in itertools.pairwise(night))  # cooling all night

    on.unit("u1").power = True
    t7 = day + timedelta(hours=7)
    temps_on = run(on, t7, 4)
    temps_off = run(off, t7, 4)
    assert temps_on[-1] == pytest.approx(20.0, abs=1.0)
    assert temps_on[-1] - temps_off[-1] > 5.0
    assert on.unit("u1").heat_extraction_w <= 0.0  # heating: negative extraction
    assert on.unit("u1").energy_kwh > 1.0


def test_euler_at_60_s_matches_a_fine_reference() -> None:
    params = RoomParams()
    coarse = Room(params, RoomState(29.0, 30.0))
    fine = Room(params, RoomState(29.0, 30.0))
    for minute in range(6 * 60):
        q_ac = 3000.0 if (minute // 20) % 2 == 0 else 0.0  # a unit cycling every 20 min
        solar = 700.0 * minute / 360
        coarse.step(60.0, 35.0, solar, 900.0, q_ac)
        for _ in range(60):
            fine.step(1.0, 35.0, solar, 900.0, q_ac)
    assert coarse.state.t_air_c == pytest.approx(fine.state.t_air_c, abs=0.05)
    assert coarse.state.t_mass_c == pytest.approx(fine.state.t_mass_c, abs=0.02)


def test_long_steps_are_substepped_and_stay_stable() -> None:
    params = RoomParams()
    fast_tau, slow_tau = params.time_constants_s()
    assert 900 < fast_tau < 1300  # ~20 min air node (checked against the research)
    assert 15 * 3600 < slow_tau < 80 * 3600  # structure: about a day or more
    one_step = Room(params, RoomState(20.0, 20.0))
    one_step.step(4 * 3600.0, 35.0, 0.0, 500.0, 0.0)  # would diverge without sub-steps
    fine = Room(params, RoomState(20.0, 20.0))
    for _ in range(4 * 60):
        fine.step(60.0, 35.0, 0.0, 500.0, 0.0)
    assert one_step.state.t_air_c == pytest.approx(fine.state.t_air_c, abs=1e-6)


def test_scaling_to_other_floor_areas_keeps_time_constants_and_doubles_capacity() -> None:
    ref = RoomParams()
    big = RoomParams.for_floor_area(60.0)
    assert big.c_air_j_k == pytest.approx(2 * ref.c_air_j_k)
    assert big.c_mass_j_k == pytest.approx(2 * ref.c_mass_j_k)
    assert big.r_window_k_w == pytest.approx(ref.r_window_k_w / 2)
    assert big.window_area_m2 == pytest.approx(8.0)
    assert big.time_constants_s() == pytest.approx(ref.time_constants_s())
    windowless = RoomParams.for_floor_area(20.0, window_area_m2=0.0)
    assert windowless.window_area_m2 == 0.0
    assert windowless.floor_area_m2 == 20.0
    # Same gains per m² and same façade share: two rooms of different size track each other.
    small, large = Room(ref, RoomState(25.0, 25.0)), Room(big, RoomState(25.0, 25.0))
    for _ in range(600):
        small.step(60.0, 33.0, 400.0, 800.0, 1000.0)
        large.step(60.0, 33.0, 400.0, 1600.0, 2000.0)
    assert small.state.t_air_c == pytest.approx(large.state.t_air_c)
    with pytest.raises(ValueError):
        RoomParams(r_wall_k_w=0.0)


def test_sun_through_the_window_heats_the_room() -> None:
    def afternoon_temp(window_area_m2: float) -> float:
        params = RoomParams.for_floor_area(30.0, window_area_m2=window_area_m2)
        room = RoomSpec("r1", "office", 30.0, params=params)
        b = Building(BuildingSpec(rooms=[room], seed=1))
        run(b, SUMMER_DAY, 16, DayKind.OFF_DAY)
        return b.room("r1").t_air_c

    sunny, windowless = afternoon_temp(4.0), afternoon_temp(0.0)
    assert sunny - windowless > 2.0
