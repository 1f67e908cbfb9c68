"""Tariffs for accounting: prices by time-of-use period, month and day type; demand charge;
versions over time. Money is ``Decimal`` (CNY), never float.

A tariff file (``tariffs/<id>.yaml``) is the one the control loop reads for its
periods (``gateway.control.tariff``) grown by the sections that reader ignores:

- ``version`` / ``valid_from``: which version of the tariff the file's top level is;
  older versions go under ``previous`` (each a whole version: periods, pricing,
  demand charge, source, checked), so intervals are priced with the version in
  force on their day;
- ``day_types``: periods that differ on weekends or statutory holidays (each day
  type that differs lists its whole year, so every hour still maps to one period);
- ``pricing``: a ``flat_price`` and ``ratios`` per month group (how Chinese TOU
  notices publish it), or explicit ``prices`` per month group, CNY/kWh;
- ``demand_charge``: the basic charge on the month's maximum 15-minute demand
  (CNY/kW·month) or on capacity (CNY/kVA·month), with its verification status.

Validation (every problem with ``file:line``): the period tables are checked
by the control loop's own ``check_tariff`` (each month split into periods with
no gap and no overlap); on top, every period boundary lies on a quarter hour
(a 15-minute accounting interval never straddles two periods), every period
used in a month has a price in that month, and versions do not overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.core.calendar import DayType, SiteCalendar
from gateway.core.sourcefile import ConfigError, Loc, Problem, SourceDoc, load_yaml
from gateway.core.tou import (
    PERIODS,
    MonthPeriods,
    Period,
    SourceSpec,
    TariffSpec,
    TouPeriods,
    check_tariff,
    parse_span,
    tariff_candidates,
)

#: accounting interval, minutes; every period boundary must be a multiple
INTERVAL_MIN = 15
TariffDayType = Literal["workday", "weekend", "holiday"]
DAY_TYPES: tuple[TariffDayType, ...] = ("workday", "weekend", "holiday")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatioBlock(_Strict):
    """Price ratios to the flat period for some months (flat is 1 unless said)."""

    months: list[int] = Field(min_length=1)
    valley: Decimal | None = Field(None, gt=0)
    flat: Decimal = Field(Decimal(1), gt=0)
    peak: Decimal | None = Field(None, gt=0)
    sharp: Decimal | None = Field(None, gt=0)


class PriceBlock(_Strict):
    """Explicit prices, CNY/kWh, for some months."""

    months: list[int] = Field(min_length=1)
    valley: Decimal | None = Field(None, ge=0)
    flat: Decimal | None = Field(None, ge=0)
    peak: Decimal | None = Field(None, ge=0)
    sharp: Decimal | None = Field(None, ge=0)


class PricingSpec(_Strict):
    currency: Literal["CNY"] = "CNY"
    #: price of the flat period, CNY/kWh; the others are flat_price × ratio
    flat_price: Decimal | None = Field(None, gt=0)
    ratios: list[RatioBlock] = []
    #: or: explicit prices per month group (then no flat_price / ratios)
    prices: list[PriceBlock] = []
    #: how far the price level can be trusted (source, placeholder …)
    status: str | None = None
    #: digits after the point that a derived price (flat_price × ratio) is rounded to
    decimals: int = Field(6, ge=2, le=10)


class DemandChargeSpec(_Strict):
    #: max_demand_15min: CNY per kW of the month's largest 15-minute mean demand;
    #: capacity_kva: CNY per kVA of contracted transformer capacity; none: single-part tariff
    basis: Literal["max_demand_15min", "capacity_kva", "none"]
    #: CNY per kW (or kVA) per month; null: unknown (no charge is computed)
    price: Decimal | None = Field(None, ge=0)
    #: demand above the approved (核定) value is billed at this multiple
    excess_factor: Decimal = Field(Decimal(1), ge=1)
    verified: bool = False
    status: str | None = None


class DayTypePeriods(_Strict):
    periods: list[MonthPeriods] = Field(min_length=1)


class VersionSpec(_Strict):
    """An earlier version of the tariff, whole."""

    version: str
    valid_from: date | None = None
    source: SourceSpec | None = None
    checked: date | None = None
    periods: list[MonthPeriods] = Field(min_length=1)
    day_types: dict[TariffDayType, DayTypePeriods] = {}
    pricing: PricingSpec
    demand_charge: DemandChargeSpec | None = None


class TariffFile(_Strict):
    id: str
    name: str = ""
    version: str
    #: first day this version applies (site-local); null: since always
    valid_from: date | None = None
    source: SourceSpec
    checked: date
    periods: list[MonthPeriods] = Field(min_length=1)
    day_types: dict[TariffDayType, DayTypePeriods] = {}
    pricing: PricingSpec
    demand_charge: DemandChargeSpec | None = None
    previous: list[VersionSpec] = []


@dataclass(frozen=True, slots=True)
class Rate:
    """What one interval is billed at."""

    period: Period
    #: CNY/kWh
    price: Decimal
    version: str


@dataclass(frozen=True, slots=True)
class DemandCharge:
    basis: str
    price: Decimal | None
    excess_factor: Decimal
    verified: bool
    status: str | None

    def monthly(self, max_kw: Decimal, approved_kw: Decimal | None = None) -> Decimal | None:
        """The month's demand charge for its maximum 15-min demand, CNY (None: unknown).

        Demand above ``approved_kw`` is billed at ``excess_factor`` × the price.
        A capacity-based charge (``capacity_kva``) does not depend on demand: None.
        """
        if self.price is None or self.basis != "max_demand_15min":
            return None
        if approved_kw is None or max_kw <= approved_kw:
            return max_kw * self.price
        return approved_kw * self.price + (max_kw - approved_kw) * self.price * self.excess_factor


class TariffVersion:
    """One version: periods (by day type), prices by month and period, demand charge."""

    def __init__(self, version: str, valid_from: date | None, periods: TouPeriods,
                 by_day_type: dict[str, TouPeriods], prices: dict[int, dict[str, Decimal]],
                 demand: DemandCharge | None, pricing: PricingSpec):
        self.version = version
        self.valid_from = valid_from
        self.periods = periods
        self.by_day_type = by_day_type
        self.prices = prices
        self.demand = demand
        self.pricing = pricing

    def table(self, day_type: str) -> TouPeriods:
        return self.by_day_type.get(day_type, self.periods)

    def rate(self, local: datetime, day_type: str) -> Rate:
        period = self.table(day_type).period_at(local)
        return Rate(period, self.prices[local.month][period], self.version)


class Tariff:
    """A validated tariff file: ``rate_at`` prices a site-local time.

    ``period_at`` satisfies the control loop's ``TariffPeriods`` protocol too.
    """

    def __init__(self, spec: TariffFile, versions: list[TariffVersion], path: str = ""):
        self.spec = spec
        self.id = spec.id
        self.path = path
        #: newest first
        self.versions = sorted(versions, key=lambda v: v.valid_from or date.min, reverse=True)
        #: national day types only (no site closures); SiteCalendar.day caches them
        self.calendar = SiteCalendar()

    @property
    def current(self) -> TariffVersion:
        return self.versions[0]

    def version_at(self, day: date) -> TariffVersion:
        for v in self.versions:
            if v.valid_from is None or v.valid_from <= day:
                return v
        raise LookupError(f"tariff {self.id}: no version in force on {day} (the oldest on file "
                          f"starts {self.versions[-1].valid_from})")

    def day_type(self, day: date) -> str:
        """workday (调休 make-up days included), weekend or holiday, from the national calendar."""
        kind = self.calendar.day(day).type
        return "workday" if kind in (DayType.WORKDAY, DayType.MAKEUP_WORKDAY) else \
            "holiday" if kind is DayType.HOLIDAY else "weekend"

    def rate_at(self, local: datetime) -> Rate:
        """Period and price in force at a site-local time (naive or aware, read as local)."""
        day = local.date()
        return self.version_at(day).rate(local, self.day_type(day))

    def period_at(self, local: datetime) -> Period:
        return self.rate_at(local).period

    def demand_charge(self, day: date) -> DemandCharge | None:
        return self.version_at(day).demand

    def describe(self) -> str:
        s = self.spec.source
        status = f"; {s.status}" if s.status else ""
        return (f"{self.spec.name or self.id} v{self.spec.version} — {s.document}{status} "
                f"(checked {self.spec.checked})")


# -- loading and validation -------------------------------------------------------------------


def _months_once(blocks: Sequence[RatioBlock | PriceBlock], doc: SourceDoc,
                 at: Loc) -> tuple[dict[int, int], list[Problem]]:
    seen: dict[int, int] = {}
    problems: list[Problem] = []
    for i, block in enumerate(blocks):
        for m in block.months:
            if not 1 <= m <= 12:
                problems.append(doc.problem((*at, i, "months"), f"{m} is not a month"))
            elif m in seen:
                problems.append(doc.problem((*at, i, "months"),
                                            f"month {m} is already in {at[-1]}[{seen[m]}]"))
            else:
                seen[m] = i
    missing = sorted(set(range(1, 13)) - set(seen))
    if missing and blocks:
        problems.append(doc.problem(at, f"months {', '.join(map(str, missing))} have no "
                                        f"{at[-1]}"))
    return seen, problems


def _prices(p: PricingSpec, used: dict[int, set[str]], doc: SourceDoc,
            base: Loc) -> tuple[dict[int, dict[str, Decimal]], list[Problem]]:
    """month → period → CNY/kWh, and the problems."""
    at = (*base, "pricing")
    problems: list[Problem] = []
    out: dict[int, dict[str, Decimal]] = {m: {} for m in range(1, 13)}
    if p.prices and (p.ratios or p.flat_price is not None):
        problems.append(doc.problem(at, "give either prices, or flat_price with ratios — "
                                        "not both"))
        return out, problems
    if p.prices:
        seen, found = _months_once(p.prices, doc, (*at, "prices"))
        problems += found
        for m, i in seen.items():
            block = p.prices[i]
            out[m] = {name: getattr(block, name) for name in PERIODS
                      if getattr(block, name) is not None}
        where = "prices"
    else:
        if p.flat_price is None:
            problems.append(doc.problem(at, "no prices: give flat_price and ratios, or prices"))
            return out, problems
        q = Decimal(1).scaleb(-p.decimals)
        if not p.ratios:
            for m in out:  # a flat tariff: one price
                out[m] = {name: p.flat_price.quantize(q) for name in PERIODS}
        seen, found = _months_once(p.ratios, doc, (*at, "ratios"))
        problems += found
        for m, i in seen.items():
            ratio = p.ratios[i]
            out[m] = {name: (p.flat_price * getattr(ratio, name)).quantize(q)
                      for name in PERIODS if getattr(ratio, name) is not None}
        where = "ratios"
    if p.prices or p.ratios:
        by_block: dict[int, tuple[set[str], list[int]]] = {}
        for m, i in seen.items():
            missing = used.get(m, set()) - set(out[m])
            if missing:
                entry = by_block.setdefault(i, (set(), []))
                entry[0].update(missing)
                entry[1].append(m)
        for i, (names, months) in sorted(by_block.items()):
            listed = ", ".join(sorted(names, key=PERIODS.index))
            problems.append(doc.problem((*at, where, i), f"no price for {listed}, which "
                                        f"month(s) {', '.join(map(str, sorted(months)))} use"))
    return out, problems


def _quarter_hours(blocks: list[MonthPeriods], doc: SourceDoc, base: Loc) -> list[Problem]:
    problems = []
    for i, block in enumerate(blocks):
        for name in PERIODS:
            for j, text in enumerate(getattr(block, name)):
                try:
                    start, end = parse_span(text)
                except ValueError:
                    continue  # check_tariff reports it
                for t in (start, end):
                    if t % INTERVAL_MIN:
                        problems.append(doc.problem(
                            (*base, "periods", i, name, j),
                            f"{t // 60:02d}:{t % 60:02d} is not on a quarter hour: a "
                            f"{INTERVAL_MIN}-minute interval would span two periods"))
    return problems


def _used(blocks: list[MonthPeriods], used: dict[int, set[str]]) -> None:
    for block in blocks:
        for m in block.months:
            used.setdefault(m, set()).update(n for n in PERIODS if getattr(block, n))


def _version(doc: SourceDoc, base: Loc, tariff_id: str, version: str, valid_from: date | None,
             source: SourceSpec, checked: date, periods: list[MonthPeriods],
             day_types: dict[TariffDayType, DayTypePeriods], pricing: PricingSpec,
             demand: DemandChargeSpec | None, problems: list[Problem]) -> TariffVersion | None:
    found: list[Problem] = []
    spec = TariffSpec(id=tariff_id, source=source, checked=checked, periods=periods)
    found += check_tariff(spec, doc, base)
    found += _quarter_hours(periods, doc, base)
    used: dict[int, set[str]] = {}
    _used(periods, used)
    tables: dict[str, TouPeriods] = {}
    for name, dt in day_types.items():
        dbase = (*base, "day_types", name)
        dspec = TariffSpec(id=tariff_id, source=source, checked=checked, periods=dt.periods)
        found += check_tariff(dspec, doc, dbase)
        found += _quarter_hours(dt.periods, doc, dbase)
        _used(dt.periods, used)
        tables[name] = TouPeriods(dspec, doc.path)
    prices, more = _prices(pricing, used, doc, base)
    found += more
    problems += found
    if found:
        return None
    charge = None if demand is None else DemandCharge(
        demand.basis, demand.price, demand.excess_factor, demand.verified, demand.status)
    return TariffVersion(version, valid_from, TouPeriods(spec, doc.path), tables, prices,
                         charge, pricing)


def parse_tariff(doc: SourceDoc) -> Tariff:
    spec = doc.validate(TariffFile)
    problems: list[Problem] = []
    versions: list[TariffVersion] = []
    top = _version(doc, (), spec.id, spec.version, spec.valid_from, spec.source, spec.checked,
                   spec.periods, spec.day_types, spec.pricing, spec.demand_charge, problems)
    if top is not None:
        versions.append(top)
    names: dict[str, Loc] = {spec.version: ("version",)}
    for k, prev in enumerate(spec.previous):
        at: Loc = ("previous", k)
        if prev.version in names:
            problems.append(doc.problem((*at, "version"), f"version {prev.version!r} is "
                                                          "already in the file"))
        names[prev.version] = (*at, "version")
        if prev.valid_from is not None and spec.valid_from is not None and \
                prev.valid_from >= spec.valid_from:
            problems.append(doc.problem((*at, "valid_from"), f"{prev.valid_from} is not before "
                                        f"the current version's valid_from {spec.valid_from}"))
        if spec.valid_from is None:
            problems.append(doc.problem(("valid_from",), "the current version needs valid_from "
                                                         "when previous versions exist"))
        v = _version(doc, at, spec.id, prev.version, prev.valid_from, prev.source or spec.source,
                     prev.checked or spec.checked, prev.periods, prev.day_types, prev.pricing,
                     prev.demand_charge, problems)
        if v is not None:
            versions.append(v)
    starts = [v.valid_from for v in versions]
    if starts.count(None) > 1:
        problems.append(doc.problem(("previous",), "only the oldest version may omit valid_from"))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise ConfigError(problems)
    return Tariff(spec, versions, doc.path)


def load_tariff(path: str | Path) -> Tariff:
    """Load and validate a tariff file; raises ConfigError with ``file:line`` problems."""
    return parse_tariff(load_yaml(path))


def load_site_tariff(tariff_id: str | None, tariffs_dir: Path | None = None,
                     where: str = "site.tariff", site_path: str | Path | None = None) -> Tariff:
    """The tariff a site file names; ConfigError when it names none or no file is found.

    Looked for in ``tariffs_dir`` if given, else in ``tariffs/`` beside the site file,
    ``tariffs/`` beside the site file's folder (the repository layout), then the
    gateway's own ``tariffs/``.
    """
    if tariff_id is None:
        raise ConfigError([Problem(where, None, "tariff", "the site names no tariff (site.tariff)"
                                                          ": energy cannot be priced")])
    candidates = tariff_candidates(tariff_id, site_path, tariffs_dir)
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise ConfigError([Problem(where, None, "tariff", f"no tariff file {tariff_id}.yaml "
                                   f"(looked in {', '.join(str(p.parent) for p in candidates)})")])
    return load_tariff(path)


def money(value: Decimal) -> Decimal:
    """Rounded to the fen (0.01 CNY), half up, as bills are."""
    from decimal import ROUND_HALF_UP

    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


__all__ = ["DAY_TYPES", "INTERVAL_MIN", "DemandCharge", "Rate", "Tariff", "TariffVersion",
           "load_site_tariff", "load_tariff", "money", "parse_tariff"]
