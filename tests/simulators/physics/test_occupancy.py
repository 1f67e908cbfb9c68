"""Occupancy profiles and internal gains."""

import pytest

from simulators.physics import (
    PROFILES,
    DayKind,
    RoomOccupancy,
    occupancy_fraction,
    profile_for,
)

H = 3600.0
ORDINAL = 739_447  # any day


def test_office_profile_by_time_and_day_kind() -> None:
    office = PROFILES["office"]
    assert occupancy_fraction(office, 3 * H, DayKind.WORKDAY) == 0.0
    assert occupancy_fraction(office, 10 * H, DayKind.WORKDAY) > 0.9
    assert occupancy_fraction(office, 12.75 * H, DayKind.WORKDAY) < 0.6  # lunch
    assert occupancy_fraction(office, 15 * H, DayKind.WORKDAY) > 0.9
    assert occupancy_fraction(office, 22 * H, DayKind.WORKDAY) == 0.0
    assert occupancy_fraction(office, 10 * H, DayKind.OFF_DAY) <= 0.1


def test_gains_are_people_plus_equipment_and_lighting_with_standby_at_night() -> None:
    occ = RoomOccupancy(profile_for("office"), 30.0, 3, "seed/r")
    occ.update(3 * H, ORDINAL, DayKind.WORKDAY)
    assert occ.people_present == 0.0
    assert occ.electric_w == occ.heat_gain_w == 2.0 * 30.0  # standby only
    occ.update(10 * H, ORDINAL, DayKind.WORKDAY)
    assert 2.5 < occ.people_present <= 3.0
    # ~0.95 kW for the reference office (research table): 3 × 75 W + 30 m² × (15 + 9) W/m²
    assert 800.0 < occ.heat_gain_w < 1000.0
    assert occ.heat_gain_w - occ.electric_w == pytest.approx(occ.people_present * 75.0)


def test_jitter_is_seeded_per_room() -> None:
    def day(seed_key: str) -> list[float]:
        occ = RoomOccupancy(profile_for("office"), 30.0, 3, seed_key)
        out = []
        for minute in range(1440):
            occ.update(minute * 60.0, ORDINAL, DayKind.WORKDAY)
            out.append(occ.fraction)
        return out

    assert day("1/room/a") == day("1/room/a")
    assert day("1/room/a") != day("2/room/a")
    assert all(0.0 <= f <= 1.0 for f in day("1/room/a"))


def test_daily_shift_does_not_depend_on_the_step_size() -> None:
    coarse = RoomOccupancy(profile_for("office"), 30.0, 3, "k")
    fine = RoomOccupancy(profile_for("office"), 30.0, 3, "k")
    for minute in range(0, 600, 10):
        coarse.update(minute * 60.0, ORDINAL, DayKind.WORKDAY)
    for second in range(0, 36_000, 30):
        fine.update(float(second), ORDINAL, DayKind.WORKDAY)
    assert coarse._shift_s == fine._shift_s


def test_people_are_whole_and_the_share_over_many_days_follows_the_profile() -> None:
    """Each occupant draws once a day; a three-person office is either empty or holds
    1, 2 or 3 people, and on average the profile's share is present."""
    office = profile_for("office")
    occ = RoomOccupancy(office, 30.0, 3, "k")
    at_ten, at_seven_pm, empty_at_seven_pm = [], [], 0
    days = 400
    for d in range(days):
        occ.update(10 * H, ORDINAL + d, DayKind.WORKDAY)
        assert occ.people_present in (0.0, 1.0, 2.0, 3.0)
        at_ten.append(occ.people_present)
        occ.update(19 * H, ORDINAL + d, DayKind.WORKDAY)
        at_seven_pm.append(occ.people_present)
        empty_at_seven_pm += occ.people_present == 0
    share_ten = sum(at_ten) / (3 * days)
    assert share_ten == pytest.approx(occupancy_fraction(office, 10 * H, DayKind.WORKDAY), abs=0.05)
    share_evening = sum(at_seven_pm) / (3 * days)
    assert 0.03 < share_evening < 0.25  # ~0.1, moved by the daily shift of up to ±15 min
    # With "0.3 people" every office would count as occupied at 19:00; whole people
    # leave most offices empty, which is what switch-off and comfort depend on.
    assert empty_at_seven_pm > 0.55 * days


def test_lights_follow_presence_and_equipment_the_people() -> None:
    occ = RoomOccupancy(profile_for("office"), 30.0, 3, "k")
    for d in range(50):
        occ.update(19 * H, ORDINAL + d, DayKind.WORKDAY)
        if occ.people_present == 0:
            assert occ.electric_w == pytest.approx(2.0 * 30.0)  # standby only: lights off
        else:
            lights = 9.0 * 30.0
            assert occ.electric_w > 2.0 * 30.0 + lights  # lights on for one person


def test_fractional_occupants_are_whole_people_weighted() -> None:
    occ = RoomOccupancy(profile_for("office"), 30.0, 2.5, "k")
    occ.update(10 * H, ORDINAL, DayKind.WORKDAY)
    assert occ.people_present / (2.5 / 2) == pytest.approx(round(occ.people_present / 1.25))


def test_comes_in_says_ahead_whether_anyone_will_be_in_that_day() -> None:
    """The day-off study (devkit/days_off_bound.py) books a room from ``comes_in``: it
    must agree with the people the steps then bring, day by day, and not disturb them."""
    occ = RoomOccupancy(profile_for("office"), 30.0, 3, "seed/r")
    twin = RoomOccupancy(profile_for("office"), 30.0, 3, "seed/r")  # never asked ahead
    agreed = {True: 0, False: 0}
    for day in range(ORDINAL, ORDINAL + 200):
        said = occ.comes_in(day, DayKind.OFF_DAY)
        seen = False
        for minute in range(0, 24 * 60, 5):
            occ.update(minute * 60.0, day, DayKind.OFF_DAY)
            twin.update(minute * 60.0, day, DayKind.OFF_DAY)
            if minute == 12 * 60:  # asked about tomorrow in the middle of today
                occ.comes_in(day + 1, DayKind.OFF_DAY)
            assert occ.people_present == twin.people_present
            assert occ.heat_gain_w == twin.heat_gain_w
            seen = seen or occ.people_present > 0
        assert said == seen, day
        agreed[said] += 1
    assert agreed[True] > 20 and agreed[False] > 100  # one in ten of three people
    assert RoomOccupancy(profile_for("server"), 10.0, 0, "seed/s").comes_in(
        ORDINAL, DayKind.WORKDAY) is False
