"""AC units: efficiency curves, power draw per state, thermostat cycling, commands."""

import itertools
from datetime import datetime, timedelta

import pytest

from simulators.physics import (
    AcMode,
    AcUnit,
    AcUnitParams,
    Building,
    BuildingSpec,
    DayKind,
    FanSpeed,
    RoomSpec,
    UnitKind,
    UnitSpec,
    cooling_cop,
    heating_cop,
    inverter_cop_ratio,
)


def test_cooling_cop_falls_with_outdoor_temperature() -> None:
    temps = [20.0, 25.0, 30.0, 35.0, 40.0, 45.0]
    cops = [cooling_cop(3.2, t) for t in temps]
    assert all(b < a for a, b in itertools.pairwise(cops))
    assert cooling_cop(3.2, 35.0) == pytest.approx(3.2)
    assert cooling_cop(3.2, 40.0) == pytest.approx(3.2 * 0.875)
    assert cooling_cop(3.2, 70.0) == pytest.approx(3.2 * 0.5)  # clipped
    assert cooling_cop(3.2, -10.0) == pytest.approx(3.2 * 1.4)  # clipped


def test_heating_cop_falls_below_7_c() -> None:
    assert heating_cop(3.4, 7.0) == pytest.approx(3.4)
    assert heating_cop(3.4, -3.0) == pytest.approx(3.4 * 0.75)
    assert heating_cop(3.4, -2.0) < heating_cop(3.4, 2.0) < heating_cop(3.4, 6.0)
    assert heating_cop(3.4, -40.0) == pytest.approx(3.4 * 0.5)


def test_same_cooling_costs_more_power_on_a_hotter_day() -> None:
    cool_day, hot_day = AcUnit("a", power=True), AcUnit("b", power=True)
    for unit in (cool_day, hot_day):
        unit.fan = FanSpeed.HIGH
    cool_day.step(60.0, 30.0, 28.0)
    hot_day.step(60.0, 30.0, 38.0)
    assert cool_day.heat_extraction_w == pytest.approx(hot_day.heat_extraction_w)
    assert hot_day.power_kw > cool_day.power_kw * 1.2


def test_power_draw_by_state() -> None:
    unit = AcUnit("u", AcUnitParams(kind=UnitKind.FIXED))
    unit.step(60.0, 30.0, 35.0)
    assert unit.power_kw == pytest.approx(0.003)  # standby
    assert unit.heat_extraction_w == 0.0

    unit.command(power=True, mode="fan", fan="high")
    unit.step(60.0, 30.0, 35.0)
    assert unit.power_kw == pytest.approx(0.040)  # fan only moves no heat
    assert unit.heat_extraction_w == 0.0
    assert not unit.compressor_on

    unit.command(mode=AcMode.COOL, fan=FanSpeed.HIGH)
    unit.step(60.0, 30.0, 35.0)
    assert unit.compressor_on
    assert unit.heat_extraction_w == pytest.approx(3500.0)
    assert unit.power_kw == pytest.approx(3.5 / 3.0)  # rated EER at 35 °C, fixed-speed default

    unit.fan = FanSpeed.LOW
    unit.step(60.0, 30.0, 35.0)
    assert unit.heat_extraction_w == pytest.approx(0.7 * 3500.0)

    unit.command(mode="heat", setpoint_c=20.0, fan="medium")
    unit.step(60.0, 15.0, 5.0)  # reversing the cycle stops the compressor first ...
    assert not unit.compressor_on
    assert unit.power_kw == pytest.approx(0.040)
    for _ in range(3):  # ... and the restart delay (180 s) holds it off
        unit.step(60.0, 15.0, 5.0)
    assert unit.compressor_on
    assert unit.heat_extraction_w == pytest.approx(-0.85 * 4200.0)
    assert unit.power_kw == pytest.approx(0.85 * 4.2 / heating_cop(3.2, 5.0))


def test_inverter_modulates_and_follows_the_plr_power_curve() -> None:
    unit = AcUnit("u", AcUnitParams(kind=UnitKind.INVERTER), power=True, fan=FanSpeed.HIGH)
    unit.step(60.0, 26.6, 30.0)  # just above the deadband: starts near minimum
    assert unit.compressor_on
    assert 0.3 <= unit.plr < 0.8
    full_kw = 3.5 / cooling_cop(3.5, 30.0)
    assert unit.power_kw == pytest.approx(full_kw * unit.plr / inverter_cop_ratio(unit.plr))
    assert unit.heat_extraction_w == pytest.approx(3500.0 * unit.plr)
    unit.step(60.0, 29.0, 30.0)  # far above the setpoint: full capacity
    assert unit.plr == 1.0
    for _ in range(30):
        unit.step(60.0, 26.0, 30.0)  # at the setpoint: integral keeps it running, not below min
    assert unit.compressor_on
    assert unit.plr >= 0.3
    unit.step(60.0, 25.4, 30.0)  # below the deadband: stops
    assert not unit.compressor_on
    assert unit.compressor_starts == 1


def test_restart_delay_and_setpoint_clamp() -> None:
    unit = AcUnit("u", AcUnitParams(kind=UnitKind.FIXED, restart_delay_s=180.0), power=True)
    unit.step(60.0, 27.0, 35.0)
    unit.step(60.0, 25.0, 35.0)  # satisfied: stops
    assert not unit.compressor_on
    unit.step(60.0, 27.0, 35.0)
    unit.step(60.0, 27.0, 35.0)
    assert not unit.compressor_on  # only 120 s off
    unit.step(60.0, 27.0, 35.0)
    assert unit.compressor_on
    assert unit.compressor_starts == 2

    unit.setpoint_c = 10.0
    assert unit.setpoint_c == 16.0
    unit.command(setpoint_c=35.0)
    assert unit.setpoint_c == 30.0


def test_auto_mode_picks_cool_or_heat_from_room_temperature() -> None:
    warm = AcUnit("w", power=True, mode=AcMode.AUTO, setpoint_c=24.0)
    warm.step(60.0, 28.0, 30.0)
    assert warm.effective_mode is AcMode.COOL
    assert warm.heat_extraction_w > 0

    cold = AcUnit("c", power=True, mode=AcMode.AUTO, setpoint_c=22.0)
    cold.step(60.0, 15.0, 2.0)
    assert cold.effective_mode is AcMode.HEAT
    assert cold.heat_extraction_w < 0
    cold.step(60.0, 22.8, 2.0)  # inside the changeover band: stays heating
    assert cold.effective_mode is AcMode.HEAT
    cold.step(60.0, 24.0, 2.0)
    assert str(cold.effective_mode) == "cool"  # (str: mypy keeps the old narrowing)


def test_fixed_speed_unit_cycles_within_the_deadband_and_counts_starts() -> None:
    spec = BuildingSpec(
        rooms=[RoomSpec("r1", units=[UnitSpec("u1", kind="fixed", power=True)])], seed=11
    )
    b = Building(spec)
    unit, room = b.unit("u1"), b.room("r1")
    t = datetime(2025, 7, 15, 8)
    seen_starts = 0
    was_on = unit.compressor_on
    air = []
    for minute in range(8 * 60):
        b.step(60.0, t, DayKind.WORKDAY)
        t += timedelta(seconds=60)
        if unit.compressor_on and not was_on:
            seen_starts += 1
            assert unit.room_temp_c > 26.5  # sensed temperature crossed the upper band
        if was_on and not unit.compressor_on:
            assert unit.room_temp_c < 25.5
        was_on = unit.compressor_on
        if minute >= 90:  # after the pull-down
            air.append(room.t_air_c)
    assert unit.compressor_starts == seen_starts
    assert seen_starts >= 12  # it cycles (~2-3 per hour)
    assert min(air) > 26.0 - 0.5 - 0.35  # ±0.5 K deadband, plus one 60 s step and sensor noise
    assert max(air) < 26.0 + 0.5 + 0.35
    assert max(air) - min(air) > 0.6  # ... and really swings across it


def test_commands_accept_the_enum_values_as_strings() -> None:
    unit = AcUnit("u", power=True)
    unit.mode = "auto"  # as a Modbus write decoded through a profile might set it
    unit.fan = "low"
    assert unit.mode is AcMode.AUTO and unit.fan is FanSpeed.LOW
    unit.step(60.0, 29.0, 33.0)
    assert unit.effective_mode is AcMode.COOL
    with pytest.raises(ValueError):
        unit.mode = "turbo"
    with pytest.raises(ValueError):
        unit.setpoint_c = float("nan")
    assert unit.setpoint_c == 26.0


def test_an_inverter_is_most_efficient_at_part_load() -> None:
    """BEopt/ResStock mini-split curve rescaled to the rated point: part load beats
    rated, so an inverter's seasonal efficiency (APF) exceeds its rated EER."""
    assert inverter_cop_ratio(1.0) == pytest.approx(1.0)
    ratios = [inverter_cop_ratio(x / 10) for x in range(4, 11)]
    assert ratios == sorted(ratios, reverse=True)  # falls as the load rises
    assert 1.55 < inverter_cop_ratio(0.4) < 1.65
    assert 1.3 < inverter_cop_ratio(0.67) < 1.4
    assert inverter_cop_ratio(0.3) == inverter_cop_ratio(0.4)  # flat below the lowest speed
