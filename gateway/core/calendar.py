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
from functools import cache
from typing import Any, Literal

import holidays

from gateway.i18n import CHINESE, N_, _, babel_locale, language


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
    #: the statutory holiday whose block this day is in (or is made up for): the date
    #: of that holiday, so its name can be had in any language (``festival_name``)
    festival: date | None = None
    #: the site's words for a closure or an open day, or the source of a typed-in year
    note: str | None = None


#: how a day reads, by type (``day_label``); the festival or note is filled in
_LABELS = {
    DayType.WORKDAY: N_("workday"),
    DayType.MAKEUP_WORKDAY: N_("make-up working day"),
    DayType.WEEKEND: N_("weekend"),
    DayType.HOLIDAY: N_("statutory holiday"),
    DayType.CLOSURE: N_("closure"),
}
_MAX_BLOCK_DAYS = 12  # the longest holiday block (Spring Festival, 9 days) with room


@cache
def _national_names(country: str, year: int, lang: str) -> dict[date, str]:
    """The package's holiday names of a year in ``lang`` ("en_US" or "zh_CN")."""
    cal: Any = holidays.country_holidays(country, years=year, language=lang)
    return dict(cal.items())


def festival_name(country: str, day: date) -> str:
    """The holiday on ``day`` by its name in the current language, without "(observed)"."""
    lang = "zh_CN" if language() == CHINESE else "en_US"
    name = _national_names(country, day.year, lang).get(day, "")
    for tail in (" (observed)", "（补假）", "(observed)"):
        name = name.removesuffix(tail)
    return name


def date_label(day: date) -> str:
    """An unambiguous date: 2026-10-04 in English, 2026年10月4日 星期日 in Chinese."""
    if language() != CHINESE:
        return day.isoformat()
    from babel.dates import format_date

    return f"{format_date(day, 'long', locale=babel_locale())} " \
           f"{format_date(day, 'EEEE', locale=babel_locale())}"


def day_label(info: DayInfo, country: str = "CN") -> str:
    """What kind of day it is, for people, in the current language: 工作日, 国庆节假期,
    调休上班（国庆节）, 停用日：寒假 ... (``info.reason`` stays English, for files)."""
    festival = festival_name(country, info.festival) if info.festival is not None else ""
    if info.type is DayType.WORKDAY and info.note is not None:
        text = _("open day: {reason}").format(reason=info.note)
    elif info.type is DayType.CLOSURE and info.note is not None:
        text = _("closure: {reason}").format(reason=info.note)
    elif info.type is DayType.MAKEUP_WORKDAY and festival:
        text = _("make-up working day for {holiday}").format(holiday=festival)
    elif info.type in (DayType.HOLIDAY, DayType.WEEKEND) and festival:
        text = _("{holiday} holiday").format(holiday=festival)
    else:
        text = _(_LABELS[info.type])
    if info.note is not None and info.type in (DayType.HOLIDAY, DayType.MAKEUP_WORKDAY):
        text += _(" (from {source})").format(source=info.note)
    if not info.covered:
        text += _(" (outside the holiday data: a fallback)")
    return text


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

    def coverage_alarm(self, today: date, *, for_people: bool = False) -> str | None:
        """A message when today, or a day within ``warn_days_ahead``, is not covered: in
        English for the alarm, or ``for_people`` in the current language."""
        tr = _ if for_people else str
        for ahead in (0, self.warn_days_ahead):
            day = today + timedelta(days=ahead)
            if not self.covers(day):
                when = tr(N_("today")) if ahead == 0 else tr(N_("from {date}")).format(
                    date=date(day.year, 1, 1).isoformat())
                return tr(N_("calendar: {country} holiday data covers {years}; {year} is not "
                             "covered ({when}); day types fall back to '{fallback}' — upgrade "
                             "the holidays package or add calendar.official_years.{year} from "
                             "the State Council notice")).format(
                    country=self.country, years=self.coverage_text(), year=day.year,
                    when=when, fallback=self.outside_coverage)
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
                return DayInfo(DayType.WORKDAY, f"open day: {op.reason}", True,
                               note=op.reason)
        for c in self.closures:
            if c.covers(day) and (c.groups is None or c.groups & groups):
                return DayInfo(DayType.CLOSURE, f"closure: {c.reason}", True, note=c.reason)
        return self.national(day)

    def national(self, day: date) -> DayInfo:
        """The national day type, before the site's closures."""
        weekend = day.weekday() >= 5
        extra = self._extra.get(day.year)
        if extra is not None:
            if day in extra.holidays:
                return DayInfo(DayType.HOLIDAY, f"statutory holiday ({extra.source})",
                               note=extra.source, festival=self._block_festival(day))
            if day in extra.workdays:
                return DayInfo(DayType.MAKEUP_WORKDAY,
                               f"调休 make-up workday ({extra.source})", note=extra.source)
            festival = self._block_festival(day) if weekend else None
            if festival is not None:
                return DayInfo(DayType.WEEKEND, f"weekend in the {self._english(festival)} "
                               "holiday", festival=festival)
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
            festival = self._block_festival(day)
            return DayInfo(DayType.HOLIDAY, f"statutory holiday: {name}{suffix}", covered,
                           festival)
        if weekend:
            if self._national.is_working_day(day):
                festival = self._made_up_for(day)
                named = f" for {self._english(festival)}" if festival else ""
                return DayInfo(DayType.MAKEUP_WORKDAY,
                               f"调休 make-up workday{named}{suffix}", covered, festival)
            # a Saturday or Sunday inside a holiday block is part of that holiday (the State
            # Council's notice counts it); its type stays weekend, as the rules see it
            festival = self._block_festival(day)
            if festival is not None:
                return DayInfo(DayType.WEEKEND, f"weekend in the {self._english(festival)} "
                               f"holiday{suffix}", covered, festival)
            return DayInfo(DayType.WEEKEND, f"weekend{suffix}", covered)
        return DayInfo(DayType.WORKDAY, f"workday{suffix}", covered)

    def _off(self, day: date) -> bool:
        extra = self._extra.get(day.year)
        if extra is not None:  # a year typed in from the notice: its days, not the package's
            return day in extra.holidays or (day.weekday() >= 5 and day not in extra.workdays)
        return day in self._national or (day.weekday() >= 5
                                         and not self._national.is_working_day(day))

    def _festival(self, day: date) -> bool:
        """A day the package names after a festival (not a moved day off); in a typed-in
        year, one of its holidays that the package (by its estimate) names."""
        extra = self._extra.get(day.year)
        if extra is not None and day not in extra.holidays:
            return False
        return bool(self._english(day)) and not self._english(day).startswith("Day off")

    def _english(self, day: date) -> str:
        return _national_names(self.country, day.year, "en_US").get(day, "") \
            .removesuffix(" (observed)")

    def _block_festival(self, day: date) -> date | None:
        """The nearest festival in the run of days off around ``day`` (None: an ordinary
        weekend): the name the notice gives the whole block."""
        if not self._off(day):
            return None
        best: date | None = None
        for step in (timedelta(days=-1), timedelta(days=1)):
            d = day
            for _step in range(_MAX_BLOCK_DAYS):
                if not self._off(d):
                    break
                if self._festival(d):
                    if best is None or abs(d - day) < abs(best - day):
                        best = d
                    break
                d += step
        return best

    def _made_up_for(self, day: date) -> date | None:
        """The festival of the block whose day off this make-up workday pays for."""
        moved = f"(substituted from {day.strftime('%m/%d/%Y')})"
        for when in (day.year - 1, day.year, day.year + 1):
            for off, name in _national_names(self.country, when, "en_US").items():
                if name.endswith(moved):
                    return self._block_festival(off)
        return None
