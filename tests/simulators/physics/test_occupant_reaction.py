"""Occupants who switch their room's unit back on when too warm or too cold."""

from datetime import datetime, timedelta

import pytest

from simulators.physics import (
    AcMode,
    AcUnit,
    Building,
    BuildingSpec,
    DayKind,
    OccupantReaction,
    RoomReaction,
    RoomSpec,
    UnitSpec,
)


def unit(mode: str = "cool") -> AcUnit:
    return AcUnit("u", power=False, mode=mode)


def test_present_and_too_warm_for_the_patience_switches_the_unit_on() -> None:
    r = RoomReaction(OccupantReaction(hot_c=28.5, patience_s=600))
    u = unit()
    for _ in range(9):
        assert not r.step(60.0, 2.0, 29.0, (u,))
    assert not u.power  # nine minutes: still patient
    assert r.step(60.0, 2.0, 29.0, (u,))
    assert u.power and u.mode is AcMode.COOL and r.switch_ons == 1


def test_nobody_there_comfortable_or_unit_already_on_means_no_action() -> None:
    r = RoomReaction(OccupantReaction(patience_s=0))
    u = unit()
    assert not r.step(60.0, 0.0, 31.0, (u,))  # empty room
    assert not r.step(60.0, 3.0, 27.9, (u,))  # within the band
    u.power = True
    assert not r.step(60.0, 3.0, 31.0, (u,))  # already on (occupants never switch off)
    assert r.switch_ons == 0


def test_discomfort_must_last_without_a_break() -> None:
    r = RoomReaction(OccupantReaction(patience_s=600))
    u = unit()
    for _ in range(8):
        r.step(60.0, 1.0, 29.0, (u,))
    r.step(60.0, 1.0, 28.0, (u,))  # a cooler minute resets the patience
    for _ in range(8):
        r.step(60.0, 1.0, 29.0, (u,))
    assert not u.power


def test_a_cold_occupant_turns_a_cooling_unit_to_heat() -> None:
    r = RoomReaction(OccupantReaction(cold_c=17.5, patience_s=0))
    u = unit("cool")
    assert r.step(60.0, 1.0, 15.0, (u,))
    assert u.power and u.mode is AcMode.HEAT


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError, match="cold_c"):
        OccupantReaction(hot_c=20.0, cold_c=21.0)


def test_a_building_after_a_scheduled_switch_off_on_a_hot_evening() -> None:
    """Offices switched off at 18:00 on the hot summer day: the late stayers switch
    their units back on; with the reaction disabled nobody does."""

    def evening(reaction: OccupantReaction | None) -> Building:
        rooms = [RoomSpec(f"r{i}", "office", 30.0, occupants=3,
                          units=[UnitSpec(f"u{i}", power=True, setpoint_c=27.0)])
                 for i in range(12)]
        b = Building(BuildingSpec(rooms=rooms, weather="wuhan-summer-hot", seed=3,
                                  occupant_reaction=reaction))
        t = datetime(2026, 7, 15, 8, 0)
        while t < datetime(2026, 7, 15, 21, 0):
            if t.hour == 18 and t.minute == 0:
                for u in b.units.values():
                    u.command(power=False)
            b.step(60.0, t, DayKind.WORKDAY)
            t += timedelta(minutes=1)
        return b

    reacting = evening(OccupantReaction())
    assert 0 < reacting.occupant_switch_ons < 12  # some stay late, not everyone
    on = [u for u in reacting.units.values() if u.power]
    assert len(on) == reacting.occupant_switch_ons
    passive = evening(None)
    assert passive.occupant_switch_ons == 0
    assert not any(u.power for u in passive.units.values())
