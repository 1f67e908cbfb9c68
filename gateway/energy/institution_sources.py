"""Where institution statistics come from: the institutions file, meter-reading files for
institutions without a gateway (or for carriers a gateway does not meter), and the
central database for gateway sites (their energy intervals, through ``report.Collector``).

The institutions file (YAML, errors as ``file:line: field: message``)::

    database: {url: http://influx.example.cn:8086, database: escogw}
    base_year: 2020
    factors: {natural_gas_m3: 1.2143}      # kgce per unit, overriding GB/T 2589's
    institutions:
      demo-office:
        name: 武汉某办公楼
        site: sites/demo-office.yaml       # a gateway site: electricity and water
        readings: readings/demo-office.csv # gas, and the base year before the gateway
      school-3:
        name: 第三小学
        floor_area_m2: 5200
        occupants: 860
        readings: readings/school-3.csv

A readings file is CSV, one month's total per line::

    month,carrier,quantity,cost_cny
    2020-07,electricity_kwh,41250,29040.50
    2020-07,water_m3,310,
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.core.site import load_site
from gateway.core.sourcefile import MAX_BYTES, ConfigError, Problem, load_yaml
from gateway.energy.influx import InfluxReader
from gateway.energy.institutions import CARRIERS, Institution, MonthTotals, default_factors
from gateway.energy.report import Collector

#: what a gateway site's database gives; a readings file may not give these for its months
METERED = ("electricity_kwh", "water_m3")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSpec(_Strict):
    url: str
    database: str = "escogw"
    username: str | None = None
    password: str | None = None


class BaseSpec(_Strict):
    floor_area_m2: float | None = Field(None, gt=0)
    occupants: int | None = Field(None, ge=1)


class InstitutionSpec(_Strict):
    name: str
    site: Path | None = None
    readings: Path | None = None
    floor_area_m2: float | None = Field(None, gt=0)
    occupants: int | None = Field(None, ge=1)
    base: BaseSpec = BaseSpec()


class InstitutionsFile(_Strict):
    database: DatabaseSpec | None = None
    base_year: int | None = Field(None, ge=2000, le=2100)
    factors: dict[str, float] = {}
    institutions: dict[str, InstitutionSpec] = Field(min_length=1)

    @field_validator("factors")
    @classmethod
    def _known(cls, factors: dict[str, float]) -> dict[str, float]:
        for key, value in factors.items():
            if key not in CARRIERS or CARRIERS[key].kgce is None:
                raise ValueError(f"{key!r}: not an energy carrier "
                                 f"({', '.join(k for k, c in CARRIERS.items() if c.kgce)})")
            if not 0 < value < 100:
                raise ValueError(f"{key}: {value} kgce per unit is not plausible")
        return factors


class Sources:
    """The loaded institutions file: who, with which factors, and where each one's data is."""

    def __init__(self, path: Path, spec: InstitutionsFile):
        self.path = path
        self.spec = spec
        self.factors = {**default_factors(), **spec.factors}

    def _rel(self, p: Path) -> Path:
        return p if p.is_absolute() else self.path.parent / p

    def collect(self, start: date, end: date
                ) -> list[tuple[Institution, list[MonthTotals]]]:
        """Every institution with its months in [start, end] and in the base year.
        Raises ConfigError (site or readings files) or energy.influx.InfluxError."""
        reader = None
        db = self.spec.database
        if db is not None:
            reader = InfluxReader(db.url, db.database, db.username, db.password)
        out = []
        problems: list[Problem] = []
        for inst_id, spec in self.spec.institutions.items():
            months: dict[date, MonthTotals] = {}
            area, people = spec.floor_area_m2, spec.occupants
            measured: set[date] = set()
            if spec.site is not None:
                site = load_site(self._rel(spec.site))
                area = area or site.spec.site.floor_area_m2
                people = people or site.spec.site.occupants
                if reader is None:
                    problems.append(Problem(str(self.path), None, f"institutions.{inst_id}",
                                            "a gateway site needs database: to read from"))
                    continue
                collector = Collector(site, reader)
                days, _ = collector.daily(start, _month_end(end))
                base_year = self.spec.base_year
                if base_year is not None and not start.year <= base_year <= end.year:
                    base_days, _ = collector.daily(date(base_year, 1, 1),
                                                   date(base_year, 12, 31))
                    days = {**base_days, **days}
                for d in days.values():
                    if d.intervals == 0 and d.water_m3 == 0:
                        continue
                    m = months.setdefault(d.day.replace(day=1), MonthTotals(d.day.replace(day=1)))
                    m.add("electricity_kwh", d.kwh, d.cost)
                    m.add("water_m3", d.water_m3)
                    measured.add(m.month)
            if spec.readings is not None:
                try:
                    for line, month, carrier, qty, cost in read_readings(
                            self._rel(spec.readings)):
                        if month in measured and carrier in METERED:
                            problems.append(Problem(str(self._rel(spec.readings)), line,
                                                    "carrier", f"{month:%Y-%m} {carrier} is "
                                                    "metered by the gateway already"))
                            continue
                        months.setdefault(month, MonthTotals(month)).add(carrier, qty, cost)
                except ConfigError as exc:
                    problems.extend(exc.problems)
            if area is None or people is None:
                problems.append(Problem(str(self.path), None, f"institutions.{inst_id}",
                                        "floor_area_m2 and occupants are needed (or site:)"))
                continue
            out.append((Institution(inst_id, spec.name, area, people,
                                    spec.base.floor_area_m2, spec.base.occupants),
                        [months[k] for k in sorted(months)]))
        if problems:
            raise ConfigError(problems)
        return out


def _month_end(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def load_sources(path: str | Path) -> Sources:
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "an institutions file is a mapping "
                                           "(institutions:, database:, base_year:)")])
    spec = doc.validate(InstitutionsFile)
    problems = [doc.problem(("institutions", i), "neither site: nor readings: — no data")
                for i, s in spec.institutions.items() if s.site is None and s.readings is None]
    if problems:
        raise ConfigError(problems)
    return Sources(Path(path), spec)


def read_readings(path: Path) -> list[tuple[int, date, str, float, Decimal | None]]:
    """(line, month, carrier, quantity, cost) of a readings file; raises ConfigError naming
    file, line and column for every bad line."""
    try:
        raw = path.read_bytes()[: MAX_BYTES + 1]
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, "", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise ConfigError([Problem(str(path), None, "", f"larger than {MAX_BYTES} bytes")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(path), None, "", f"not UTF-8 (byte {exc.start})")]) \
            from None
    rows = csv.reader(io.StringIO(text))
    problems: list[Problem] = []
    out: list[tuple[int, date, str, float, Decimal | None]] = []
    header = next(rows, None)
    if header is None or [h.strip() for h in header[:3]] != ["month", "carrier", "quantity"]:
        raise ConfigError([Problem(str(path), 1, "", "the header is "
                                   "month,carrier,quantity[,cost_cny]")])
    seen: dict[tuple[date, str], int] = {}
    for row in rows:
        line = rows.line_num
        if not any(c.strip() for c in row):
            continue
        cells = [c.strip() for c in row] + ["", "", "", ""]

        def bad(column: str, message: str, line: int = line) -> None:
            problems.append(Problem(str(path), line, column, message))

        m = MONTH_RE.match(cells[0])
        if m is None or not 1 <= int(m.group(2)) <= 12:
            bad("month", f"{cells[0][:20]!r} is not YYYY-MM")
            continue
        month = date(int(m.group(1)), int(m.group(2)), 1)
        carrier = cells[1]
        if carrier not in CARRIERS:
            bad("carrier", f"{carrier[:30]!r} is not one of {', '.join(CARRIERS)}")
            continue
        try:
            qty = float(cells[2])
            if not 0 <= qty < 1e12:
                raise ValueError
        except ValueError:
            bad("quantity", f"{cells[2][:20]!r} is not a quantity ≥ 0")
            continue
        cost: Decimal | None = None
        if cells[3]:
            try:
                cost = Decimal(cells[3])
                if not cost.is_finite() or cost < 0:
                    raise InvalidOperation
            except InvalidOperation:
                bad("cost_cny", f"{cells[3][:20]!r} is not an amount ≥ 0")
                continue
        if (month, carrier) in seen:
            bad("carrier", f"{month:%Y-%m} {carrier} is already on line {seen[month, carrier]}")
            continue
        seen[month, carrier] = line
        out.append((line, month, carrier, qty, cost))
        if len(out) > 100_000:
            bad("", "more than 100 000 lines")
            break
    if problems:
        raise ConfigError(problems)
    return out
