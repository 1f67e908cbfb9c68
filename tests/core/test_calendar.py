"""Day types: China's statutory holidays and 调休 make-up workdays from the holidays package,
site closures, and an alarm — never a silent guess — outside the data's coverage."""

from datetime import date
from pathlib import Path

import pytest

from gateway.core.calendar import Closure, DayType, OfficialYear, OpenDay, SiteCalendar
from tests.control.ctl_world import rules_from


@pytest.mark.parametrize(("day", "kind"), [
    (date(2026, 7, 15), DayType.WORKDAY),          # a Wednesday
    (date(2026, 7, 18), DayType.WEEKEND),          # a Saturday
    (date(2026, 10, 1), DayType.HOLIDAY),          # National Day
    (date(2026, 6, 19), DayType.HOLIDAY),          # Dragon Boat Festival (a Friday)
    (date(2026, 2, 17), DayType.HOLIDAY),          # Spring Festival
    (date(2026, 2, 20), DayType.HOLIDAY),          # a weekday moved into the holiday block
    (date(2026, 1, 4), DayType.MAKEUP_WORKDAY),    # Sunday, 调休 make-up workday
    (date(2026, 2, 14), DayType.MAKEUP_WORKDAY),   # Saturday
    (date(2026, 2, 28), DayType.MAKEUP_WORKDAY),
    (date(2026, 5, 9), DayType.MAKEUP_WORKDAY),
    (date(2026, 9, 20), DayType.MAKEUP_WORKDAY),
    (date(2026, 10, 10), DayType.MAKEUP_WORKDAY),
    (date(2025, 1, 26), DayType.MAKEUP_WORKDAY),   # 2025 too
    (date(2025, 10, 6), DayType.HOLIDAY),          # Mid-Autumn 2025
])
def test_national_day_types(day: date, kind: DayType) -> None:
    assert SiteCalendar().day(day).type is kind


def test_every_2026_makeup_day_is_a_weekend_day() -> None:
    cal = SiteCalendar()
    days = [d for d in (date(2026, 1, 1).fromordinal(n) for n in
                        range(date(2026, 1, 1).toordinal(), date(2027, 1, 1).toordinal()))
            if cal.day(d).type is DayType.MAKEUP_WORKDAY]
    # the State Council notice of 2025-11-04: six make-up days
    assert [d.isoformat() for d in days] == ["2026-01-04", "2026-02-14", "2026-02-28",
                                             "2026-05-09", "2026-09-20", "2026-10-10"]
    assert all(d.weekday() >= 5 for d in days)


def test_closures_for_the_site_and_for_groups() -> None:
    cal = SiteCalendar(closures=[
        Closure(date(2026, 7, 11), date(2026, 8, 31), "summer vacation",
                frozenset({"teaching"})),
        Closure(date(2026, 9, 5), date(2026, 9, 5), "inspection day")])
    assert cal.day(date(2026, 7, 15), {"teaching"}).type is DayType.CLOSURE
    assert cal.day(date(2026, 7, 15), {"offices"}).type is DayType.WORKDAY
    info = cal.day(date(2026, 9, 5), {"offices"})
    assert info.type is DayType.CLOSURE and "inspection" in info.reason
    # a closure also beats a make-up workday
    cal2 = SiteCalendar(closures=[Closure(date(2026, 10, 10), date(2026, 10, 10), "audit")])
    assert cal2.day(date(2026, 10, 10)).type is DayType.CLOSURE


def test_open_day_beats_weekend_and_closure() -> None:
    cal = SiteCalendar(
        closures=[Closure(date(2026, 5, 1), date(2026, 5, 31), "works", None)],
        open_days=[OpenDay(date(2026, 5, 16), "mock exam", frozenset({"teaching"}))])
    assert cal.day(date(2026, 5, 16), {"teaching"}).type is DayType.WORKDAY
    assert cal.day(date(2026, 5, 16), {"offices"}).type is DayType.CLOSURE


def test_coverage_alarm_for_a_year_outside_the_data() -> None:
    cal = SiteCalendar()
    assert 2026 in cal.covered_years and 2027 not in cal.covered_years
    assert cal.coverage_alarm(date(2026, 6, 1)) is None
    # 30 days ahead reaches into 2027: the alarm comes before the data runs out
    ahead = cal.coverage_alarm(date(2026, 12, 10))
    assert ahead is not None and "2027 is not covered" in ahead
    now = cal.coverage_alarm(date(2027, 3, 1))
    assert now is not None and "(today)" in now
    info = cal.day(date(2027, 10, 1))
    assert not info.covered and "estimated" in info.reason
    assert info.type is DayType.HOLIDAY  # the package's estimate, flagged


@pytest.mark.parametrize(("policy", "kind"), [("weekday", DayType.WORKDAY),
                                              ("closed", DayType.CLOSURE)])
def test_outside_coverage_fallbacks(policy: str, kind: DayType) -> None:
    cal = SiteCalendar(outside_coverage=policy)  # type: ignore[arg-type]
    info = cal.day(date(2027, 10, 1))  # a Friday; National Day by any estimate
    assert info.type is kind and not info.covered


def test_official_year_typed_in_extends_coverage() -> None:
    year = OfficialYear(2027, frozenset({date(2027, 10, 1)}), frozenset({date(2027, 9, 26)}),
                        "国办发明电〔2026〕X号")
    cal = SiteCalendar(official_years=[year])
    assert cal.covers(date(2027, 3, 1))
    assert cal.day(date(2027, 10, 1)).type is DayType.HOLIDAY
    assert cal.day(date(2027, 9, 26)).type is DayType.MAKEUP_WORKDAY  # a Sunday
    assert cal.coverage_alarm(date(2027, 3, 1)) is None


def test_rule_file_calendar(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, """
        groups:
          meeting: {match: {use: meeting}}
        calendar:
          closures:
            - {from: 2026-08-10, to: 2026-08-11, reason: "inspection"}
            - {from: 2026-07-20, to: 2026-07-24, reason: "renovation", group: meeting}
    """)
    cal = rules.calendar
    assert cal.day(date(2026, 8, 10)).type is DayType.CLOSURE
    m = rules.units["ac-m101"]
    r = rules.units["ac-r101"]
    assert cal.day(date(2026, 7, 21), m.cal_groups).type is DayType.CLOSURE
    assert cal.day(date(2026, 7, 21), r.cal_groups).type is DayType.WORKDAY
