"""Comfort, defined once for the report and the what-if simulation.

The band: 26–28 °C in the cooling months, 18–22 °C otherwise (``COOLING_BAND``,
``HEATING_BAND``: their source below). Discomfort (BOPTEST's
``tdis``) of a zone is ∫ the zone's air temperature's distance outside the band dt, in K·h,
over the time the zone is **occupied** only — an empty room that floats out of the band is
no one's discomfort. The headline figure is the sum over the zones divided by the number of
zones (K·h per zone).

``DiscomfortTally`` is that definition: both the what-if's collector (``kpis.Discomfort``,
occupied = the simulation has people in the room) and the report (``report.Collector``,
occupied = the unit's occupancy sensor where it has one, else the zone's scheduled occupancy,
``scheduled_occupied``) feed it samples; neither sums K·h itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from gateway.i18n import _
from simulators.physics.occupancy import PROFILES, DayKind, occupancy_fraction

Band = tuple[float, float]

#: The comfort bands are GB 50736-2012《民用建筑供暖通风与空气调节设计规范》§3.0.2, table
#: 3.0.2 (人员长期逗留区域, rooms people stay in for long): cooling comfort level II 26–28 °C
#: (level I 24–26), heating comfort level II 18–22 °C (level I 22–24). (§3.0.1 gives 16–22 °C
#: as the heating design temperature of 夏热冬冷 regions such as Wuhan.) Level II is the one a
#: public building under the national setpoint limits can hold.
#:
#: The band is not the regulatory setpoint limit (国办发〔2007〕42号: cooling not set below
#: 26 °C, heating not set above 20 °C; ``gateway.core.policy.SetpointPolicy``, the clamps):
#: that limits what a unit is *set* to, and is never broken; the band says which *room*
#: temperatures count as comfortable. A winter room at 21 °C from the afternoon sun, with its
#: unit set to 20 °C or off, is inside the band.
COOLING_BAND: Band = (26.0, 28.0)
HEATING_BAND: Band = (18.0, 22.0)
#: the scheduled occupied hours of an office zone without an occupancy sensor (working days)
OFFICE_HOURS = (time(8, 0), time(18, 0))


def band_text() -> str:
    """How the report and the what-if page describe the band (in the current language)."""
    return _("{clo:g}–{chi:g} °C in the cooling months, {hlo:g}–{hhi:g} °C otherwise").format(
        clo=COOLING_BAND[0], chi=COOLING_BAND[1], hlo=HEATING_BAND[0], hhi=HEATING_BAND[1])


def scheduled_occupied(use: str | None, workday: bool, at: time) -> bool:
    """Is a zone scheduled to be occupied at ``at``? By the occupancy schedule of its use
    (site-file tag ``use``: office, meeting, …; the schedules the simulators' occupants
    follow, simulators/physics/occupancy.py): where its nominal occupied fraction is above 0.
    A zone of no known use: ``OFFICE_HOURS`` on working days."""
    profile = PROFILES.get(use or "")
    if profile is None:
        return workday and OFFICE_HOURS[0] <= at < OFFICE_HOURS[1]
    seconds = at.hour * 3600 + at.minute * 60 + at.second
    return occupancy_fraction(profile, seconds,
                              DayKind.WORKDAY if workday else DayKind.OFF_DAY) > 0.0


def comfort_band(cooling: bool) -> Band:
    """The band of a cooling month, or of any other month."""
    return COOLING_BAND if cooling else HEATING_BAND


def outside_band(temp_c: float, band: Band) -> float:
    """How far (K) a temperature lies outside the band; 0 inside it."""
    lo, hi = band
    return lo - temp_c if temp_c < lo else temp_c - hi if temp_c > hi else 0.0


@dataclass
class DiscomfortTally:
    """K·h outside the band per zone over its occupied time, and its occupied hours.

    Every zone that may be occupied is registered first (``zone``), so that a zone that
    was always comfortable still counts in the per-zone mean.
    """

    kh: dict[str, float] = field(default_factory=dict)
    occupied_h: dict[str, float] = field(default_factory=dict)
    by_day: dict[date, dict[str, float]] = field(default_factory=dict)
    #: local hour → K·h summed over the zones
    by_hour: dict[int, float] = field(default_factory=dict)

    def zone(self, name: str) -> None:
        self.kh.setdefault(name, 0.0)
        self.occupied_h.setdefault(name, 0.0)

    def add(self, zone: str, temp_c: float, band: Band, hours: float, occupied: bool,
            day: date | None = None, hour: int | None = None) -> None:
        """``hours`` of ``zone`` at ``temp_c``: counted only when ``occupied``."""
        self.zone(zone)
        if not occupied:
            return
        self.occupied_h[zone] += hours
        off = outside_band(temp_c, band) * hours
        if not off:
            return
        self.kh[zone] += off
        if day is not None:
            per = self.by_day.setdefault(day, {})
            per[zone] = per.get(zone, 0.0) + off
        if hour is not None:
            self.by_hour[hour] = self.by_hour.get(hour, 0.0) + off

    @property
    def total_kh(self) -> float:
        return sum(self.kh.values())

    @property
    def kh_per_zone(self) -> float:
        return self.total_kh / len(self.kh) if self.kh else 0.0

    @property
    def hours(self) -> float:
        return sum(self.occupied_h.values())
