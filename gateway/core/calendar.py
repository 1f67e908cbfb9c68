"""Day types: China's statutory holidays and 调休 make-up workdays, plus the site's own closures.

The national calendar comes from the maintained ``holidays`` package (State
Council notices, updated yearly). A year is *covered* when the package carries
that year's official schedule; for any other date the day type is a fallback
(the package's estimate, the weekday, or closed) and ``coverage_alarm`` says so
— the gateway never guesses silently. A rule file may add a year the package
does not have yet (``calendar.official_years``), copied from the State Council
notice, which then counts as covered.

Closures (school vacations, inspection days) override the national calendar for
the whole site or for some groups only; open days make a single date a workday.
Pure: the date is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Literal

import holidays


class DayType(StrEnum):
    WORKDAY = "workday"
    #: 调休补班: a Saturday or Sunday the State Council made a working day
    MAKEUP_WORKDAY = "makeup_workday"
    WEEKEND = "weekend"
    #: statutory holiday, including the weekdays moved into a holiday block
    HOLIDAY = "holiday"
    #: the site (or part of it) is closed: vacation, inspection day
    CLOSURE = "closure"


DAY_TYPES: tuple[DayType, ...] = tuple(DayType)
WORKING = frozenset({DayType.WORKDAY, DayType.MAKEUP_WORKDAY})

OutsideCoverage = Literal["estimate", "weekday", "closed"]


@dataclass(frozen=True)
class Closure:
    start: date
    end: date
    reason: str
    #: None: the whole site; else only units in one of these groups
    groups: frozenset[str] | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class OpenDay:
    day: date
    reason: str
    groups: frozenset[str] | None = None


@dataclass(frozen=True)
class OfficialYear:
    """A year's schedule typed in from the State Council notice (the package lags)."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str


@dataclass(frozen=True)
class DayInfo:
    type: DayType
    reason: str
    #: False when the national data does not cover the date (fallback used, alarm due)
    covered: bool = True


def _official_years_of_package(country: str) -> frozenset[int]:
    """Years for which the package holds the official schedule (not its estimate)."""
    if country.upper() == "CN":
        try:
            from holidays.countries.china import ChinaStaticHolidays

            years = getattr(ChinaStaticHolidays, "special_public_holidays", None)
            if isinstance(years, dict) and years:
                return frozenset(int(y) for y in years)
        except ImportError:  # pragma: no cover - layout of another holidays version
            pass
        # Fallback: years in which the package knows at least one make-up workday.
        cal: Any = holidays.country_holidays("CN", years=range(2001, date.today().year + 3))
        return frozenset(d.year for d in getattr(cal, "weekend_workdays", ()))
    return frozenset()


@dataclass
class SiteCalendar:
    country: str = "CN"
    closures: Sequence[Closure] = ()
    open_days: Sequence[OpenDay] = ()
    official_years: Sequence[OfficialYear] = ()
    outside_coverage: OutsideCoverage = "estimate"
    #: alarm this many days before the data runs out
    warn_days_ahead: int = 30
    _national: Any = field(init=False, repr=False)
    _covered: frozenset[int] = field(init=False, repr=False)
    _extra: dict[int, OfficialYear] = field(init=False, repr=False)
    _cache: dict[tuple[date, frozenset[str]], DayInfo] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._national = holidays.country_holidays(self.country)
        self._extra = {y.year: y for y in self.official_years}
        self._covered = _official_years_of_package(self.country) | frozenset(self._extra)
        self._cache = {}

    # -- coverage ---------------------------------------------------------------

    @property
    def covered_years(self) -> frozenset[int]:
        return self._covered

    def covers(self, day: date) -> bool:
        return day.year in self._covered

    def coverage_text(self) -> str:
        years = sorted(self._covered)
        if not years:
            return "no year"
        return f"{years[0]}–{years[-1]}" if years == list(range(years[0], years[-1] + 1)) \
            else ", ".join(map(str, years))

    def coverage_alarm(self, today: date) -> str | None:
        """A message when today, or a day within ``warn_days_ahead``, is not covered."""
        for ahead in (0, self.warn_days_ahead):
            day = today + timedelta(days=ahead)
            if not self.covers(day):
                when = "today" if ahead == 0 else f"from {date(day.year, 1, 1).isoformat()}"
                return (f"calendar: {self.country} holiday data covers {self.coverage_text()}; "
                        f"{day.year} is not covered ({when}); day types fall back to "
                        f"'{self.outside_coverage}' — upgrade the holidays package or add "
                        f"calendar.official_years.{day.year} from the State Council notice")
        return None

    # -- day types --------------------------------------------------------------

    def day(self, day: date, groups: Iterable[str] = ()) -> DayInfo:
        """The day type of ``day`` for a unit in ``groups`` (closures may be per group)."""
        gs = groups if isinstance(groups, frozenset) else frozenset(groups)
        key = (day, gs)
        info = self._cache.get(key)
        if info is None:
            if len(self._cache) > 20_000:
                self._cache.clear()
            info = self._cache[key] = self._compute(day, gs)
        return info

    def _compute(self, day: date, groups: frozenset[str]) -> DayInfo:
        for op in self.open_days:
            if op.day == day and (op.groups is None or op.groups & groups):
                return DayInfo(DayType.WORKDAY, f"open day: {op.reason}", True)
        for c in self.closures:
            if c.covers(day) and (c.groups is None or c.groups & groups):
                return DayInfo(DayType.CLOSURE, f"closure: {c.reason}", True)
        return self.national(day)

    def national(self, day: date) -> DayInfo:
        """The national day type, before the site's closures."""
        weekend = day.weekday() >= 5
        extra = self._extra.get(day.year)
        if extra is not None:
            if day in extra.holidays:
                return DayInfo(DayType.HOLIDAY, f"statutory holiday ({extra.source})")
            if day in extra.workdays:
                return DayInfo(DayType.MAKEUP_WORKDAY,
                               f"调休 make-up workday ({extra.source})")
            return DayInfo(DayType.WEEKEND if weekend else DayType.WORKDAY,
                           "weekend" if weekend else "workday")
        covered = self.covers(day)
        if not covered and self.outside_coverage != "estimate":
            note = f" ({day.year} outside the holiday data: by weekday)"
            if self.outside_coverage == "closed":
                return DayInfo(DayType.CLOSURE,
                               f"{day.year} outside the holiday data: treated as closed", False)
            return DayInfo(DayType.WEEKEND if weekend else DayType.WORKDAY,
                           ("weekend" if weekend else "workday") + note, False)
        suffix = "" if covered else f" ({day.year} outside the official data: estimated)"
        name = self._national.get(day)
        if name is not None:
            return DayInfo(DayType.HOLIDAY, f"statutory holiday: {name}{suffix}", covered)
        if weekend:
            if self._national.is_working_day(day):
                return DayInfo(DayType.MAKEUP_WORKDAY, f"调休 make-up workday{suffix}", covered)
            return DayInfo(DayType.WEEKEND, f"weekend{suffix}", covered)
        return DayInfo(DayType.WORKDAY, f"workday{suffix}", covered)
