"""Building: construction from specs, determinism, day kinds, step splitting."""

from datetime import datetime, timedelta

import pytest

from simulators.physics import (
    Building,
    BuildingSpec,
    DayKind,
    RoomParams,
    RoomSpec,
    UnitSpec,
    bundled_weather,
    initial_room_temp_c,
)

START = datetime(2025, 7, 15)


def small_site(seed: int, weather: str = "wuhan-summer-hot") -> BuildingSpec:
    return BuildingSpec(
        rooms=[
            RoomSpec("o1", "office", 30.0, units=[UnitSpec("u1", power=True)]),
            RoomSpec("o2", "office", 30.0, units=[UnitSpec("u2", kind="fixed", power=True)]),
            RoomSpec("m1", "meeting", 60.0, occupants=16, units=[UnitSpec("u3"), UnitSpec("u4")]),
            RoomSpec(
                "s1", "server", 20.0, units=[UnitSpec("u5", rated_cooling_kw=7.2, power=True)]
            ),
        ],
        weather=weather,
        seed=seed,
    )


def trace(
    b: Building, hours: float = 24.0, day: DayKind = DayKind.WORKDAY
) -> list[tuple[float, ...]]:
    out = []
    t = START
    for _ in range(round(hours * 60)):
        b.step(60.0, t, day)
        t += timedelta(seconds=60)
        m = b.main_meter
        out.append(
            (
                *(r.t_air_c for r in b.rooms.values()),
                *(u.power_kw for u in b.units.values()),
                *m.voltage_v,
                m.frequency_hz,
                m.energy_import_kwh,
                b.people_present,
            )
        )
    return out


def test_same_seed_gives_identical_results_and_another_seed_different_noise() -> None:
    a = trace(Building(small_site(42)))
    b = trace(Building(small_site(42)))
    c = trace(Building(small_site(43)))
    assert a == b
    assert a != c
    voltages = slice(-6, -3)
    assert a[100][voltages] != c[100][voltages]
    assert abs(a[-1][-2] - c[-1][-2]) / a[-1][-2] < 0.05  # noise, not a different building


def test_initial_state_follows_the_weather() -> None:
    summer = Building(small_site(1))
    t0 = initial_room_temp_c(bundled_weather("wuhan-summer-hot"))
    assert 28.5 <= t0 <= 30.5
    for room in summer.rooms.values():
        assert room.t_air_c == room.t_mass_c == t0
    winter = Building(small_site(1, "wuhan-winter-cold"))
    assert 8.0 <= winter.room("o1").t_air_c <= 14.0
    fixed = Building(BuildingSpec(rooms=[RoomSpec("r")], initial_temp_c=22.0))
    assert fixed.room("r").t_air_c == 22.0


def test_off_days_use_less_energy_and_water_than_workdays() -> None:
    work, off = Building(small_site(5)), Building(small_site(5))
    trace(work, day=DayKind.WORKDAY)
    trace(off, day=DayKind.OFF_DAY)
    assert work.ac_meter is not None and off.ac_meter is not None

    def non_hvac(b: Building) -> float:
        assert b.ac_meter is not None
        return b.main_meter.energy_import_kwh - b.ac_meter.energy_import_kwh

    server_kwh = 2.0 * 24  # the server room's IT load runs either way
    assert non_hvac(off) - server_kwh < 0.5 * (non_hvac(work) - server_kwh)
    assert non_hvac(off) > server_kwh
    assert work.water_meter is not None and off.water_meter is not None
    assert off.water_meter.volume_m3 < 0.3 * work.water_meter.volume_m3


def test_server_room_has_a_constant_load_and_nobody_in_it() -> None:
    b = Building(small_site(5))
    server = b.room("s1")
    loads = set()
    t = START
    for _ in range(24):
        b.step(3600.0, t, DayKind.WORKDAY)
        t += timedelta(hours=1)
        loads.add(round(server.occupancy.electric_w, 6))
        assert server.occupancy.people_present == 0.0
    assert loads == {2000.0}  # 100 W/m² × 20 m²
    assert server.t_air_c == pytest.approx(26.0, abs=1.0)  # its unit keeps it cool


def test_a_long_step_equals_the_same_time_in_60_s_steps() -> None:
    spec = BuildingSpec(
        rooms=[RoomSpec("r", units=[UnitSpec("u", power=True, sensor_noise_k=0.0)])], seed=2
    )
    one, many = Building(spec), Building(spec)
    t = START + timedelta(hours=9)
    one.step(900.0, t, DayKind.WORKDAY)
    for k in range(15):
        many.step(60.0, t + timedelta(seconds=60 * k), DayKind.WORKDAY)
    assert one.room("r").t_air_c == pytest.approx(many.room("r").t_air_c, abs=1e-9)
    assert one.main_meter.energy_import_kwh == pytest.approx(many.main_meter.energy_import_kwh)


def test_a_step_across_midnight_wraps_the_time_of_day() -> None:
    b = Building(BuildingSpec(rooms=[RoomSpec("r")]))
    b.step(7200.0, datetime(2025, 7, 15, 23), DayKind.WORKDAY)
    assert b.outdoor_temp_c == pytest.approx(b.weather.at(3600 * 0.99)[0], abs=0.1)
    b.step(10.5 * 3600, datetime(2025, 7, 15, 23), DayKind.WORKDAY)  # ends 09:30 next day
    assert b.people_present > 2.0  # the office is occupied again


def test_bad_specs_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate room"):
        Building(BuildingSpec(rooms=[RoomSpec("r"), RoomSpec("r")]))
    with pytest.raises(ValueError, match="duplicate unit"):
        Building(
            BuildingSpec(
                rooms=[RoomSpec("a", units=[UnitSpec("u")]), RoomSpec("b", units=[UnitSpec("u")])]
            )
        )
    with pytest.raises(ValueError, match="unknown room kind"):
        Building(BuildingSpec(rooms=[RoomSpec("r", kind="ballroom")]))
    with pytest.raises(ValueError):
        Building(BuildingSpec(rooms=[RoomSpec("r", units=[UnitSpec("u", kind="magic")])]))
    with pytest.raises(ValueError, match="floor_area_m2"):
        Building(BuildingSpec(rooms=[RoomSpec("r", params=RoomParams.for_floor_area(20.0))]))
    with pytest.raises(ValueError):
        Building(BuildingSpec(rooms=[]))
    with pytest.raises(ValueError):
        Building(BuildingSpec(rooms=[RoomSpec("r")])).step(-1.0, START, DayKind.WORKDAY)
