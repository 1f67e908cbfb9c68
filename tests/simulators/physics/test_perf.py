"""A day of 50 rooms at 60 s steps. Prints the run time; no wall-clock assertion."""

import time
from datetime import datetime, timedelta

from simulators.physics import Building, BuildingSpec, DayKind, RoomSpec, UnitSpec


def fifty_rooms() -> BuildingSpec:
    rooms = [
        RoomSpec(
            "server",
            "server",
            20.0,
            units=[UnitSpec("ac-server", rated_cooling_kw=7.2, power=True)],
        )
    ]
    for i in range(1, 50):
        if i % 10 == 0:
            units = [UnitSpec(f"ac-{i}a", power=True), UnitSpec(f"ac-{i}b", power=True)]
            rooms.append(RoomSpec(f"meeting-{i}", "meeting", 60.0, units=units))
        else:
            kind = "fixed" if i % 3 == 0 else "inverter"
            rooms.append(
                RoomSpec(f"office-{i}", units=[UnitSpec(f"ac-{i}", kind=kind, power=True)])
            )
    return BuildingSpec(rooms=rooms, seed=1)


def test_a_day_of_fifty_rooms_at_60_s_steps() -> None:
    b = Building(fifty_rooms())
    assert len(b.rooms) == 50
    t = datetime(2025, 7, 15)
    started = time.perf_counter()
    for _ in range(1440):
        b.step(60.0, t, DayKind.WORKDAY)
        t += timedelta(seconds=60)
    elapsed = time.perf_counter() - started
    print(
        f"\n50 rooms / {len(b.units)} units, 1440 steps of 60 s: {elapsed:.3f} s "
        f"({elapsed / (1440 * 50) * 1e6:.2f} µs per room-step); "
        f"main {b.main_meter.energy_import_kwh:.0f} kWh, water "
        f"{b.water_meter.volume_m3 if b.water_meter else 0:.1f} m³"
    )
    assert all(20.0 < r.t_air_c < 32.0 for r in b.rooms.values())
    assert b.main_meter.energy_import_kwh > 0
