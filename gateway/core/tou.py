"""Time-of-use periods, just enough for tariff-aware control (pre-cooling, peak float).

``TariffPeriods`` is the interface the control engine uses; ``TouPeriods`` reads
a small data file (``tariffs/<id>.yaml``) that records where the periods come
from and when they were checked. Full tariff files (prices, demand charges,
versions over time) are another component's business; this reader ignores any
section it does not know, so those files can grow around it.

Validation: every month is listed exactly once, and each month's day is split
into periods with no gap and no overlap, in whole minutes.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from gateway.core.datadirs import data_dir
from gateway.core.sourcefile import ConfigError, Problem, SourceDoc, load_yaml

Period = Literal["valley", "flat", "peak", "sharp"]
PERIODS: tuple[Period, ...] = ("valley", "flat", "peak", "sharp")
#: cheaper first
PERIOD_RANK: dict[str, int] = {"valley": 0, "flat": 1, "peak": 2, "sharp": 3}

TARIFFS_DIR = data_dir("tariffs")


class TariffPeriods(Protocol):
    def period_at(self, local: datetime) -> Period:
        """The period in force at a site-local time."""
        ...


def parse_span(text: Any) -> tuple[int, int]:
    """``"07:00-12:00"`` → (420, 720) minutes; ``24:00`` is allowed as an end."""
    if not isinstance(text, str) or text.count("-") != 1:
        raise ValueError(f"{text!r} is not a span like \"07:00-12:00\"")
    a, b = (s.strip() for s in text.split("-"))
    start, end = parse_hhmm(a), parse_hhmm(b, allow_24=True)
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


def parse_hhmm(text: str, allow_24: bool = False) -> int:
    hh, sep, mm = text.partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or len(mm) != 2:
        raise ValueError(f"{text!r} is not a time like \"07:30\"")
    minutes = int(hh) * 60 + int(mm)
    if int(mm) > 59 or minutes > (1440 if allow_24 else 1439):
        raise ValueError(f"{text!r} is not a time of day")
    return minutes


def _spans(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


Spans = Annotated[list[str], BeforeValidator(_spans)]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Loose):
    document: str
    url: str | None = None
    status: str | None = None
    notes: str | None = None


class MonthPeriods(_Strict):
    months: list[Annotated[int, Field(ge=1, le=12)]]
    valley: Spans = []
    flat: Spans = []
    peak: Spans = []
    sharp: Spans = []


class TariffSpec(_Loose):
    id: str
    name: str = ""
    source: SourceSpec
    #: when someone last compared this file with the official text
    checked: date
    periods: list[MonthPeriods] = Field(min_length=1)


class TouPeriods:
    """Periods by month and minute of day; ``period_at`` is a bisect."""

    def __init__(self, spec: TariffSpec, path: str = ""):
        self.spec = spec
        self.path = path
        self.id = spec.id
        # month → (sorted starts, periods)
        self._table: dict[int, tuple[list[int], list[Period]]] = {}
        for block in spec.periods:
            spans: list[tuple[int, Period]] = []
            for name in PERIODS:
                for text in getattr(block, name):
                    start, _ = parse_span(text)
                    spans.append((start, name))
            spans.sort()
            for m in block.months:
                self._table[m] = ([s for s, _ in spans], [p for _, p in spans])

    def period_at(self, local: datetime) -> Period:
        starts, names = self._table[local.month]
        return names[bisect_right(starts, local.hour * 60 + local.minute) - 1]

    def spans(self, month: int) -> list[tuple[int, int, Period]]:
        """(start, end, period) in minutes for one month, in time order."""
        starts, names = self._table[month]
        ends = [*starts[1:], 1440]
        return list(zip(starts, ends, names, strict=True))

    def describe(self) -> str:
        s = self.spec.source
        status = f"; {s.status}" if s.status else ""
        return f"{self.spec.name or self.id} — {s.document}{status} (checked {self.spec.checked})"


def check_tariff(spec: TariffSpec, doc: SourceDoc,
                 base: tuple[str | int, ...] = ()) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[int, int] = {}
    for i, block in enumerate(spec.periods):
        at = (*base, "periods", i)
        for m in block.months:
            if m in seen:
                problems.append(doc.problem((*at, "months"),
                                            f"month {m} is already in periods[{seen[m]}]"))
            seen[m] = i
        minutes: list[tuple[int, int, Period, int]] = []
        for name in PERIODS:
            for j, text in enumerate(getattr(block, name)):
                try:
                    start, end = parse_span(text)
                except ValueError as exc:
                    problems.append(doc.problem((*at, name, j), str(exc)))
                    continue
                minutes.append((start, end, name, j))
        minutes.sort()
        t = 0
        for start, end, pname, j in minutes:
            if start > t:
                problems.append(doc.problem((*at, pname, j), f"no period covers "
                                            f"{t // 60:02d}:{t % 60:02d}-{start // 60:02d}:"
                                            f"{start % 60:02d}"))
            elif start < t:
                problems.append(doc.problem((*at, pname, j), f"overlaps another period before "
                                            f"{t // 60:02d}:{t % 60:02d}"))
            t = max(t, end)
        if t < 1440 and minutes:
            problems.append(doc.problem(at, f"no period covers {t // 60:02d}:{t % 60:02d}-24:00"))
        if not minutes:
            problems.append(doc.problem(at, "no periods"))
    missing = sorted(set(range(1, 13)) - set(seen))
    if missing:
        problems.append(doc.problem((*base, "periods"),
                                    f"months {', '.join(map(str, missing))} have no periods"))
    return problems


def load_tariff(path: str | Path) -> TouPeriods:
    """Load and validate a TOU period file; raises ConfigError with file:line."""
    doc = load_yaml(path)
    spec = doc.validate(TariffSpec)
    problems = check_tariff(spec, doc)
    if problems:
        raise ConfigError(problems)
    return TouPeriods(spec, str(path))


def tariff_path(tariff_id: str, tariffs_dir: Path | None = None) -> Path:
    return (tariffs_dir or TARIFFS_DIR) / f"{tariff_id}.yaml"


def site_tariffs_dir(site_path: str | Path) -> Path:
    """Where a site's own tariffs live: ``tariffs/`` beside its site file (a fleet bundle
    installs a pushed tariff there)."""
    return Path(site_path).resolve().parent / "tariffs"


def tariff_candidates(tariff_id: str, site_path: str | Path | None,
                      tariffs_dir: Path | None = None) -> list[Path]:
    """Where the tariff a site uses is looked for, first match wins — the same list for the
    control rules and the energy accounting, so both price with the same file.

    ``tariffs_dir`` given: only there. Otherwise ``tariffs/`` beside the site file, then
    beside the site file's folder (the repository layout), then the gateway's own.
    """
    if tariffs_dir is not None:
        return [tariff_path(tariff_id, tariffs_dir)]
    out: list[Path] = []
    if site_path is not None:
        here = site_tariffs_dir(site_path)
        out += [here / f"{tariff_id}.yaml", here.parent.parent / "tariffs" / f"{tariff_id}.yaml"]
    out.append(tariff_path(tariff_id))
    return out
