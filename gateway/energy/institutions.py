"""Pure: institution statistics for the national public-institution platform, over many
sites and any carrier, per month, quarter or year, against a base year.

What the platform collects (《公共机构能源资源消费统计调查制度》, 国管局, revised
2025-11; research/hvac-energy-domain.md): per institution its building area (建筑面积)
and energy users (用能人数), and per carrier the quantity and the cost; its headline
indicators are 单位建筑面积能耗 (kgce/m²), 人均综合能耗 (kgce/人) and 人均用水量
(m³/人), each reported as a change against a base year (the city's report: 2020).

Standard coal factors (``CARRIERS``) are the reference values of GB/T 2589-2020
《综合能耗计算通则》, Appendix A; electricity and heat at the equivalent value (当量值).
Natural gas has a range there (1.1000–1.3300 kgce/m³): 1.2143 is the factor the
public-institution statistics commonly use and may be changed per fleet
(``factors:`` in the institutions file). Water is counted, never converted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from gateway.energy.stats import KGCE_PER_KWH

Granularity = Literal["month", "quarter", "year"]


@dataclass(frozen=True)
class Carrier:
    key: str
    unit: str
    #: kgce per unit; None: not an energy carrier (water)
    kgce: float | None
    label_zh: str


#: the carriers of the national form, in its order; factors from GB/T 2589-2020 Appendix A
CARRIERS: dict[str, Carrier] = {c.key: c for c in (
    Carrier("electricity_kwh", "kWh", KGCE_PER_KWH, "电力"),
    Carrier("water_m3", "m³", None, "水"),
    Carrier("coal_kg", "kg", 0.7143, "煤炭"),
    Carrier("natural_gas_m3", "m³", 1.2143, "天然气"),
    Carrier("lpg_kg", "kg", 1.7143, "液化石油气"),
    Carrier("gasoline_kg", "kg", 1.4714, "汽油"),
    Carrier("diesel_kg", "kg", 1.4571, "柴油"),
    Carrier("heat_mj", "MJ", 0.03412, "热力"),
)}


@dataclass
class MonthTotals:
    """One institution's quantities (and costs, where known) of one calendar month."""

    month: date
    quantity: dict[str, float] = field(default_factory=dict)
    cost: dict[str, Decimal] = field(default_factory=dict)

    def add(self, carrier: str, quantity: float, cost: Decimal | None = None) -> None:
        self.quantity[carrier] = self.quantity.get(carrier, 0.0) + quantity
        if cost is not None:
            self.cost[carrier] = self.cost.get(carrier, Decimal(0)) + cost


@dataclass(frozen=True)
class Institution:
    id: str
    name: str
    floor_area_m2: float
    occupants: int
    #: the base year's area and users where they differed (None: as now)
    base_floor_area_m2: float | None = None
    base_occupants: int | None = None


@dataclass(frozen=True)
class PeriodStats:
    institution: Institution
    label: str
    months: int
    quantity: dict[str, float]
    cost: dict[str, Decimal]
    kgce: float
    floor_area_m2: float
    occupants: int
    #: the same indicators' change against the base year's same period, per cent
    change_pct: dict[str, float | None] = field(default_factory=dict)

    @property
    def kgce_per_m2(self) -> float:
        return self.kgce / self.floor_area_m2

    @property
    def kgce_per_person(self) -> float:
        return self.kgce / self.occupants

    @property
    def water_m3_per_person(self) -> float:
        return self.quantity.get("water_m3", 0.0) / self.occupants

    def indicators(self) -> dict[str, float]:
        return {"kgce_per_m2": self.kgce_per_m2, "kgce_per_person": self.kgce_per_person,
                "water_m3_per_person": self.water_m3_per_person}


INDICATORS = ("kgce_per_m2", "kgce_per_person", "water_m3_per_person")


def period_of(month: date, granularity: Granularity) -> str:
    if granularity == "month":
        return f"{month.year:04d}-{month.month:02d}"
    if granularity == "quarter":
        return f"{month.year:04d}-Q{(month.month - 1) // 3 + 1}"
    return f"{month.year:04d}"


def same_period_in(label: str, year: int) -> str:
    """``2026-07`` → ``2020-07``, ``2026-Q3`` → ``2020-Q3``, ``2026`` → ``2020``."""
    return f"{year:04d}{label[4:]}"


def kgce_of(quantity: Mapping[str, float], factors: Mapping[str, float]) -> float:
    return sum(q * factors[c] for c, q in quantity.items() if c in factors)


def default_factors() -> dict[str, float]:
    return {k: c.kgce for k, c in CARRIERS.items() if c.kgce is not None}


def _period_stats(inst: Institution, label: str, items: list[MonthTotals],
                  factors: Mapping[str, float], base: bool) -> PeriodStats:
    quantity: dict[str, float] = {}
    cost: dict[str, Decimal] = {}
    for m in items:
        for c, q in m.quantity.items():
            quantity[c] = quantity.get(c, 0.0) + q
        for c, v in m.cost.items():
            cost[c] = cost.get(c, Decimal(0)) + v
    area = (inst.base_floor_area_m2 if base else None) or inst.floor_area_m2
    people = (inst.base_occupants if base else None) or inst.occupants
    return PeriodStats(inst, label, len(items), quantity, cost, kgce_of(quantity, factors),
                       area, people)


def institution_periods(inst: Institution, months: Iterable[MonthTotals],
                        granularity: Granularity, start: date, end: date,
                        base_year: int | None = None,
                        factors: Mapping[str, float] | None = None) -> list[PeriodStats]:
    """Statistics of the periods touching [start, end] (first days of months, inclusive),
    each with its change against the same period of ``base_year`` where that has data."""
    f = dict(factors or default_factors())
    groups: dict[str, list[MonthTotals]] = {}
    base_groups: dict[str, list[MonthTotals]] = {}
    for m in months:
        if start <= m.month <= end:
            groups.setdefault(period_of(m.month, granularity), []).append(m)
        elif base_year is not None and m.month.year == base_year:
            base_groups.setdefault(period_of(m.month, granularity), []).append(m)
    out = []
    for label, items in sorted(groups.items()):
        stats = _period_stats(inst, label, items, f, base=False)
        if base_year is not None:
            base_items = base_groups.get(same_period_in(label, base_year))
            if base_items:
                base = _period_stats(inst, label, base_items, f, base=True).indicators()
                now = stats.indicators()
                stats.change_pct.update({k: _change(now[k], base[k]) for k in INDICATORS})
        out.append(stats)
    return out


def _change(now: float, base: float) -> float | None:
    return None if base == 0 else (now - base) / base * 100.0
