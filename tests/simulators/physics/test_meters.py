"""Meters: energy counters equal the integral of power; electrical readings are consistent."""

import math
import random
from datetime import datetime, timedelta

import pytest

from simulators.physics import (
    Building,
    BuildingSpec,
    DayKind,
    EnergyMeter,
    MeterParams,
    RoomSpec,
    UnitSpec,
    WaterMeter,
)

DAY_S = 86_400


def load_kw(t_s: float) -> float:
    """A day's varying load: base, a smooth daytime hump, and on/off blocks."""
    hump = 40.0 * max(0.0, math.sin(math.pi * (t_s - 7 * 3600) / (12 * 3600)))
    blocks = 15.0 if int(t_s // 900) % 3 == 0 else 0.0
    return 5.0 + hump + blocks


def test_standalone_meter_counter_equals_integral_of_power() -> None:
    rng = random.Random(5)
    meter = EnergyMeter("m", rng=random.Random(1))
    t = 0.0
    while t < DAY_S:  # irregular steps, 5 s .. 120 s
        dt = min(rng.uniform(5.0, 120.0), DAY_S - t)
        meter.step(dt, load_kw(t + dt / 2))  # mean power over the step (midpoint)
        t += dt
    reference_kwh = sum(load_kw(s + 0.5) for s in range(DAY_S)) / 3600.0  # 1 s steps
    assert meter.energy_import_kwh == pytest.approx(reference_kwh, rel=0.005)
    assert meter.energy_export_kwh == 0.0


def test_building_meters_equal_the_integral_of_their_loads_over_a_day() -> None:
    rooms = [
        RoomSpec(
            f"o{i}",
            "office",
            30.0,
            units=[UnitSpec(f"u{i}", kind="fixed" if i % 2 else "inverter")],
        )
        for i in range(6)
    ]
    rooms.append(RoomSpec("m1", "meeting", 60.0, units=[UnitSpec("um1"), UnitSpec("um2")]))
    rooms.append(
        RoomSpec(
            "s1",
            "server",
            20.0,
            units=[UnitSpec("us", rated_cooling_kw=7.2, power=True, setpoint_c=24.0)],
        )
    )
    spec = BuildingSpec(rooms=rooms, seed=3, base_load_w_m2=4.0, base_load_night_fraction=0.25)
    b = Building(spec)
    total_people = sum(r.occupancy.occupants for r in b.rooms.values())
    area = sum(r.floor_area_m2 for r in b.rooms.values())
    ref_main = ref_ac = 0.0
    t = datetime(2025, 7, 15)
    for minute in range(1440):
        for uid, unit in b.units.items():  # a schedule, so the load varies
            if uid != "us":
                unit.power = 8 * 60 <= minute < 18 * 60 and not (12 * 60 <= minute < 13 * 60)
        b.step(60.0, t, DayKind.WORKDAY)
        t += timedelta(seconds=60)
        # Rebuild the step's power from the parts, independently of the meters.
        ac_w = sum(u.power_kw for u in b.units.values()) * 1000.0
        rooms_w = sum(r.occupancy.electric_w for r in b.rooms.values())
        people = sum(r.occupancy.people_present for r in b.rooms.values())
        common_w = 4.0 * area * (0.25 + 0.75 * people / total_people)
        ref_ac += ac_w * 60.0 / 3.6e6
        ref_main += (ac_w + rooms_w + common_w) * 60.0 / 3.6e6
    assert b.ac_meter is not None
    assert b.ac_meter.energy_import_kwh == pytest.approx(ref_ac, rel=0.005)
    assert b.main_meter.energy_import_kwh == pytest.approx(ref_main, rel=0.005)
    assert b.ac_meter.energy_import_kwh == pytest.approx(
        sum(u.energy_kwh for u in b.units.values()), rel=1e-9
    )
    assert ref_main > ref_ac > 20.0  # a real load, not a trivially small one


def test_import_export_and_phase_readings_are_consistent() -> None:
    meter = EnergyMeter("m", MeterParams(), random.Random(2))
    meter.step(3600.0, 10.0)
    meter.step(1800.0, -4.0)  # e.g. PV export
    assert meter.energy_import_kwh == pytest.approx(10.0)
    assert meter.energy_export_kwh == pytest.approx(2.0)
    assert meter.energy_total_kwh == pytest.approx(12.0)
    assert meter.energy_net_kwh == pytest.approx(8.0)

    meter.step(60.0, 12.0)
    r = meter.readings()
    assert r["active_power_kw"] == 12.0
    assert sum(r[f"active_power_l{i}_kw"] for i in (1, 2, 3)) == pytest.approx(12.0)
    for i in (1, 2, 3):
        v, a = r[f"voltage_l{i}_v"], r[f"current_l{i}_a"]
        assert 220.0 < v < 240.0
        assert v * a * r["power_factor"] / 1000.0 == pytest.approx(r[f"active_power_l{i}_kw"])
    assert 0.9 < r["power_factor"] <= 1.0
    assert 49.9 < r["frequency_hz"] < 50.1
    s, p, q = r["apparent_power_kva"], r["active_power_kw"], r["reactive_power_kvar"]
    assert s * s == pytest.approx(p * p + q * q)


def test_voltage_noise_stays_near_nominal_over_a_day() -> None:
    meter = EnergyMeter("m", rng=random.Random(9))
    volts: list[float] = []
    for _ in range(1440):
        meter.step(60.0, 50.0)
        volts.extend(meter.voltage_v)
    mean = sum(volts) / len(volts)
    sd = math.sqrt(sum((v - mean) ** 2 for v in volts) / len(volts))
    assert abs(mean - 230.0) < 1.5
    assert 0.3 < sd < 3.0
    assert max(volts) < 240.0 and min(volts) > 220.0


def test_water_meter_follows_occupancy() -> None:
    meter = WaterMeter("w")
    meter.step(600.0, 12.0)
    assert meter.volume_m3 == pytest.approx(0.12)
    assert meter.readings() == {"flow_l_min": 12.0, "volume_m3": pytest.approx(0.12)}

    b = Building(BuildingSpec(rooms=[RoomSpec(f"o{i}") for i in range(10)], seed=1))
    assert b.water_meter is not None
    t = datetime(2025, 7, 15)
    flows = {}
    for minute in range(1440):
        b.step(60.0, t, DayKind.WORKDAY)
        t += timedelta(seconds=60)
        flows[minute] = b.water_meter.flow_l_min
    night = max(flows[m] for m in range(0, 6 * 60))
    day = sum(flows[m] for m in range(10 * 60, 11 * 60)) / 60
    assert night < 0.1
    assert day > 10 * night
    people = b.occupants  # 30 people × ~45 L/day + background
    assert 0.5 * people * 0.045 < b.water_meter.volume_m3 < 2.0 * people * 0.045
