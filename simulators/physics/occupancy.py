"""Occupancy and internal gains of a room by room kind, time of day and day kind.

Gain densities are the GB 50189 office design values quoted in the research:
10 m²/person at ~75 W sensible each, equipment 15 W/m², lighting 9 W/m². A
small standby load (PCs asleep, routers, a fridge) stays on at night. The
electrical part (equipment, lighting, constant loads) ends up as heat in the
room too, so the same watts appear on the meter and in the thermal model.

People are whole: a profile gives the share of a room's occupants present at
each time of day, and each occupant draws a number u in [0, 1) per day and is
present while u < share. The expected share is the profile's, but a room is
either empty or not — at 19:00 a three-person office with a share of 0.1 is
empty about 70 % of the time instead of holding "0.3 people", which is what
switch-off and comfort decisions depend on. Equipment follows the people
present; the lights are on while anyone is in.

Randomness is seeded per room and date: each day the schedule shifts by a few
minutes (people do not arrive on the dot) and the occupants draw anew; each
step the equipment load jitters by a few per cent.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from enum import StrEnum

SENSIBLE_W_PER_PERSON = 75.0


class DayKind(StrEnum):
    WORKDAY = "workday"
    OFF_DAY = "off_day"  # weekend or statutory holiday


@dataclass(frozen=True, slots=True)
class OccupancyProfile:
    """How a kind of room is used.

    Schedules are (hour of day, occupied fraction) breakpoints, linear in
    between, 0 outside the first and last breakpoint. Gains in W/m² of floor.
    """

    name: str
    workday: tuple[tuple[float, float], ...]
    off_day: tuple[tuple[float, float], ...]
    m2_per_person: float  # default occupant density; 0 = nobody works there
    equipment_w_m2: float
    lighting_w_m2: float
    standby_w_m2: float
    constant_w_m2: float = 0.0  # always-on load, e.g. IT racks in a server room
    daily_shift_min: float = 15.0  # the schedule moves by up to ± this each day
    #: outdoor air brought in per person present (windows, fresh-air fans), m³/h; 0: the
    #: room's fixed air exchange (RoomParams.r_window_k_w) covers it, as in an office
    fresh_air_m3_h_per_person: float = 0.0
    step_jitter: float = 0.05  # relative noise on the equipment load at each step


_OFFICE_WORKDAY = (
    (7.5, 0.0), (8.0, 0.3), (8.75, 0.9), (12.0, 0.95), (12.25, 0.5), (13.5, 0.5),
    (14.0, 0.95), (17.5, 0.95), (18.0, 0.5), (19.0, 0.1), (20.0, 0.0),
)  # fmt: skip
_OFFICE_OFF_DAY = ((9.0, 0.0), (9.5, 0.1), (16.5, 0.1), (17.0, 0.0))
_MEETING_WORKDAY = (
    (9.25, 0.0), (9.5, 0.8), (11.25, 0.8), (11.5, 0.0),
    (14.5, 0.0), (14.75, 0.8), (16.25, 0.8), (16.5, 0.0),
)  # fmt: skip

# A middle school's day (Wuhan): lessons 07:40-12:00 and 14:00-17:30; most pupils go to
# the canteen and the dormitory at noon (a quarter stay for the 午休 nap). Density: GB
# 50099-2011 (中小学校设计规范) §7.1.1 gives a middle-school classroom 1.39 m² per pupil
# and a laboratory 1.92 m²; the library's reading-room figure is ours (assumed).
# Lighting: GB 50034-2013 table 6.3.7 holds classrooms, laboratories and reading rooms
# to 9 W/m². Fresh air while people are in: GB 50736-2012 table 3.0.6-4 (high-density
# rooms), classrooms at 0.4-1.0 person/m² 24 m³/h per person, libraries at up to 0.4
# person/m² 20 (the lab taken as a classroom). A classroom of 43 without it would reach
# 30 °C in January.
_CLASSROOM_WORKDAY = (
    (7.25, 0.0), (7.5, 0.9), (11.9, 0.95), (12.1, 0.25), (13.9, 0.25), (14.0, 0.95),
    (17.4, 0.95), (17.6, 0.0),
)  # fmt: skip
_LAB_WORKDAY = (
    (8.0, 0.0), (8.1, 0.8), (11.4, 0.8), (11.5, 0.0),
    (14.4, 0.0), (14.5, 0.8), (16.9, 0.8), (17.0, 0.0),
)  # fmt: skip
_LIBRARY_WORKDAY = (
    (8.0, 0.0), (8.5, 0.3), (11.8, 0.3), (12.2, 0.6), (13.8, 0.6), (14.0, 0.2),
    (16.8, 0.5), (17.0, 0.0),
)  # fmt: skip

# A county hospital's in-patient building. Ours, not a standard's (assumed): a ward of
# three beds with a carer, around the clock; nurse stations staffed day and night, busier
# by day; a theatre in use on working days; a lobby open 07:00-21:00 every day.
_ALL_DAY = ((0.0, 0.95), (24.0, 0.95))
_NURSE_DAY = ((0.0, 0.6), (7.5, 0.6), (8.0, 1.0), (17.5, 1.0), (18.0, 0.6), (24.0, 0.6))
_THEATRE_WORKDAY = ((7.5, 0.0), (8.0, 1.0), (12.0, 1.0), (13.0, 0.5), (14.0, 1.0),
                    (17.0, 1.0), (17.5, 0.0))
_LOBBY_DAY = ((7.0, 0.0), (8.0, 0.6), (11.5, 0.9), (13.0, 0.4), (15.0, 0.7), (18.0, 0.4),
              (21.0, 0.0))

PROFILES: dict[str, OccupancyProfile] = {
    "office": OccupancyProfile(
        name="office",
        workday=_OFFICE_WORKDAY,
        off_day=_OFFICE_OFF_DAY,
        m2_per_person=10.0,
        equipment_w_m2=15.0,
        lighting_w_m2=9.0,
        standby_w_m2=2.0,
    ),
    "meeting": OccupancyProfile(
        name="meeting",
        workday=_MEETING_WORKDAY,
        off_day=(),
        m2_per_person=3.0,
        equipment_w_m2=5.0,
        lighting_w_m2=9.0,
        standby_w_m2=0.5,
        daily_shift_min=30.0,
    ),
    "classroom": OccupancyProfile(
        name="classroom",
        workday=_CLASSROOM_WORKDAY,
        off_day=(),
        m2_per_person=1.39,
        equipment_w_m2=4.0,     # a projector and the teacher's PC
        lighting_w_m2=9.0,
        standby_w_m2=0.3,
        daily_shift_min=5.0,    # the bell rings on time
        fresh_air_m3_h_per_person=24.0,
    ),
    "lab": OccupancyProfile(
        name="lab",
        workday=_LAB_WORKDAY,
        off_day=(),
        m2_per_person=1.92,
        equipment_w_m2=10.0,
        lighting_w_m2=9.0,
        standby_w_m2=1.0,
        daily_shift_min=5.0,
        fresh_air_m3_h_per_person=24.0,
    ),
    "library": OccupancyProfile(
        name="library",
        workday=_LIBRARY_WORKDAY,
        off_day=(),
        m2_per_person=2.5,
        equipment_w_m2=5.0,
        lighting_w_m2=9.0,
        standby_w_m2=0.5,
        fresh_air_m3_h_per_person=20.0,
    ),
    "ward": OccupancyProfile(
        name="ward",
        workday=_ALL_DAY,
        off_day=_ALL_DAY,
        m2_per_person=10.0,
        equipment_w_m2=5.0,
        lighting_w_m2=5.0,
        standby_w_m2=2.0,
        daily_shift_min=0.0,
    ),
    "nurse-station": OccupancyProfile(
        name="nurse-station",
        workday=_NURSE_DAY,
        off_day=_NURSE_DAY,
        m2_per_person=8.0,
        equipment_w_m2=15.0,
        lighting_w_m2=9.0,
        standby_w_m2=5.0,
        daily_shift_min=0.0,
    ),
    "operating": OccupancyProfile(
        name="operating",
        workday=_THEATRE_WORKDAY,
        off_day=(),
        m2_per_person=5.0,
        equipment_w_m2=40.0,
        lighting_w_m2=20.0,
        standby_w_m2=3.0,
    ),
    "public": OccupancyProfile(
        name="public",
        workday=_LOBBY_DAY,
        off_day=_LOBBY_DAY,
        m2_per_person=5.0,
        equipment_w_m2=2.0,
        lighting_w_m2=9.0,
        standby_w_m2=1.0,
    ),
    "store": OccupancyProfile(
        name="store",
        workday=(),
        off_day=(),
        m2_per_person=0.0,
        equipment_w_m2=0.0,
        lighting_w_m2=0.0,
        standby_w_m2=0.0,
        constant_w_m2=5.0,      # the pharmacy's refrigerators
        daily_shift_min=0.0,
        step_jitter=0.0,
    ),
    "server": OccupancyProfile(
        name="server",
        workday=(),
        off_day=(),
        m2_per_person=0.0,
        equipment_w_m2=0.0,
        lighting_w_m2=0.0,
        standby_w_m2=0.0,
        constant_w_m2=100.0,
        daily_shift_min=0.0,
        step_jitter=0.0,
    ),
}


def profile_for(kind: str) -> OccupancyProfile:
    try:
        return PROFILES[kind]
    except KeyError:
        raise ValueError(f"unknown room kind {kind!r}; known: {', '.join(PROFILES)}") from None


class _Schedule:
    """Piecewise-linear fraction over seconds of the day."""

    __slots__ = ("_fractions", "_times")

    def __init__(self, breakpoints: tuple[tuple[float, float], ...]) -> None:
        self._times = [h * 3600.0 for h, _ in breakpoints]
        self._fractions = [f for _, f in breakpoints]
        if any(b <= a for a, b in zip(self._times, self._times[1:], strict=False)):
            raise ValueError(f"schedule hours must increase: {breakpoints}")

    def at(self, seconds: float) -> float:
        times = self._times
        i = bisect_right(times, seconds)
        if i == 0 or i == len(times):
            return 0.0
        t0, f0 = times[i - 1], self._fractions[i - 1]
        return f0 + (self._fractions[i] - f0) * (seconds - t0) / (times[i] - t0)


def occupancy_fraction(
    profile: OccupancyProfile, seconds_since_local_midnight: float, day_kind: DayKind
) -> float:
    """The profile's nominal occupied fraction, 0..1, without any jitter."""
    breakpoints = profile.workday if day_kind is DayKind.WORKDAY else profile.off_day
    return _Schedule(breakpoints).at(seconds_since_local_midnight)


class RoomOccupancy:
    """Occupancy and gains of one room, updated once per simulation step.

    After :meth:`update`: ``fraction`` (share of the occupants present, 0..1),
    ``people_present`` (a whole number of people, scaled by occupants/persons when
    ``occupants`` is fractional), ``heat_gain_w`` (sensible heat into the room,
    W) and ``electric_w`` (non-HVAC electrical load of the room, W).
    """

    __slots__ = (
        "_day_ordinal",
        "_draws",
        "_equipment_span_w",
        "_jitter",
        "_lighting_w",
        "_off_day",
        "_person_weight",
        "_persons",
        "_rng",
        "_seed_key",
        "_shift_s",
        "_standby_w",
        "_workday",
        "constant_w",
        "electric_w",
        "fraction",
        "heat_gain_w",
        "occupants",
        "people_present",
        "profile",
    )

    def __init__(
        self,
        profile: OccupancyProfile,
        floor_area_m2: float,
        occupants: float,
        seed_key: str,
        constant_w: float | None = None,
    ) -> None:
        self.profile = profile
        self.occupants = occupants
        self.constant_w = (
            profile.constant_w_m2 * floor_area_m2 if constant_w is None else constant_w
        )
        self._standby_w = profile.standby_w_m2 * floor_area_m2
        self._equipment_span_w = max(
            profile.equipment_w_m2 * floor_area_m2 - self._standby_w, 0.0
        )
        self._lighting_w = profile.lighting_w_m2 * floor_area_m2
        self._persons = max(1, round(occupants)) if occupants > 0 else 0
        self._person_weight = occupants / self._persons if self._persons else 0.0
        self._draws: list[float] = []
        self._workday = _Schedule(profile.workday)
        self._off_day = _Schedule(profile.off_day)
        self._jitter = profile.step_jitter
        self._seed_key = seed_key
        self._rng = random.Random(f"{seed_key}/steps")
        self._day_ordinal = -1
        self._shift_s = 0.0
        self.fraction = 0.0
        self.people_present = 0.0
        self.electric_w = self._standby_w + self.constant_w
        self.heat_gain_w = self.electric_w

    def _day_draws(self, day_ordinal: int) -> tuple[float, list[float]]:
        """The day's schedule shift, s, and its occupants' sorted draws. Seeded by room and
        date, so a day does not depend on the step size (nor on being asked ahead)."""
        day_rng = random.Random(f"{self._seed_key}/day/{day_ordinal}")
        shift_s = day_rng.uniform(-1.0, 1.0) * self.profile.daily_shift_min * 60.0
        return shift_s, sorted(day_rng.random() for _ in range(self._persons))

    def comes_in(self, day_ordinal: int, day: DayKind) -> bool:
        """Whether anyone will be in the room at some time of that day: what a booking
        made the day before would say (devkit/days_off_bound.py)."""
        breakpoints = self.profile.workday if day is DayKind.WORKDAY else self.profile.off_day
        peak = max((f for _, f in breakpoints), default=0.0)
        _, draws = self._day_draws(day_ordinal)
        return bool(draws) and draws[0] < peak

    def update(self, seconds_since_local_midnight: float, day_ordinal: int, day: DayKind) -> None:
        """Recompute for a time of day; ``day_ordinal`` is ``date.toordinal()``."""
        if day_ordinal != self._day_ordinal:
            self._day_ordinal = day_ordinal
            self._shift_s, self._draws = self._day_draws(day_ordinal)
        schedule = self._workday if day is DayKind.WORKDAY else self._off_day
        share = schedule.at(seconds_since_local_midnight - self._shift_s)
        present = bisect_left(self._draws, share) if share > 0.0 else 0
        fraction = present / self._persons if self._persons else 0.0
        self.fraction = fraction
        people = present * self._person_weight
        self.people_present = people
        electric = self._standby_w + self.constant_w
        if present:
            equipment = self._equipment_span_w * fraction
            if self._jitter > 0.0:
                equipment *= 1.0 + self._jitter * (2.0 * self._rng.random() - 1.0)
            electric += equipment + self._lighting_w
        self.electric_w = electric
        self.heat_gain_w = electric + people * SENSIBLE_W_PER_PERSON
