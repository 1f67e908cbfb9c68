"""How much of a period the stored data cover: per site-local day, the quarter-hours for
which every main meter has an accounting interval, and the missing stretches.

A day is *complete* when every quarter-hour of it is covered, *partial* when some are,
*empty* when none is. The report shows partial days with their coverage (e.g. 53 %) and
lists the missing intervals, so that a partial day is never read as a whole one. Pure
functions: interval start times in, coverage out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

QUARTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Gap:
    """Missing quarter-hours ``start``..``end`` (site-local) and the meters without data."""

    start: datetime
    end: datetime
    meters: tuple[str, ...]

    def text(self) -> str:
        end = "24:00" if self.end.time() == time(0) and self.end.date() > self.start.date() \
            else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}–{end} ({', '.join(self.meters)})"


@dataclass(frozen=True)
class DayCoverage:
    day: date
    #: quarter-hours in the day (96; a DST change would make it 92 or 100)
    expected: int
    #: quarter-hours every main meter has an interval for
    covered: int
    gaps: list[Gap] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.covered / self.expected if self.expected else 0.0

    @property
    def complete(self) -> bool:
        return self.covered == self.expected

    @property
    def empty(self) -> bool:
        return self.covered == 0


def quarter_hours(day: date, tz: ZoneInfo) -> list[datetime]:
    """The site-local quarter-hour starts of ``day`` (UTC arithmetic: DST-safe)."""
    a = datetime.combine(day, time(0), tz).astimezone(UTC)
    b = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
    out = []
    while a < b:
        out.append(a.astimezone(tz))
        a += QUARTER
    return out


def day_coverage(day: date, tz: ZoneInfo, seen: Mapping[str, set[datetime]],
                 meters: Sequence[str]) -> DayCoverage:
    """``seen``: meter → the (aware) interval starts it has; ``meters``: those expected."""
    slots = quarter_hours(day, tz)
    covered = 0
    gaps: list[Gap] = []
    run: list[datetime] = []
    run_meters: tuple[str, ...] = ()

    def close() -> None:
        if run:
            gaps.append(Gap(run[0], run[-1] + QUARTER, run_meters))
            run.clear()

    for t in slots:
        missing = tuple(m for m in meters if t not in seen.get(m, set()))
        if not missing:
            covered += 1
            close()
            continue
        if run and missing != run_meters:
            close()
        run_meters = missing
        run.append(t)
    close()
    return DayCoverage(day, len(slots), covered, gaps)


def coverage(days: Iterable[date], tz: ZoneInfo, seen: Mapping[str, set[datetime]],
             meters: Sequence[str]) -> dict[date, DayCoverage]:
    return {d: day_coverage(d, tz, seen, meters) for d in days}


def period_fraction(days: Iterable[DayCoverage]) -> float:
    """Covered quarter-hours over expected ones, across the days."""
    items = list(days)
    expected = sum(d.expected for d in items)
    return sum(d.covered for d in items) / expected if expected else 0.0
