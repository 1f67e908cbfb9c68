"""The statistics the national public-institution energy platform asks for.

《公共机构能源资源消费统计调查制度》 (国管局, revised 2025-11) reports, per
institution: building area (建筑面积), energy users (用能人数), and per carrier
the quantity and the cost. Its headline indicators are

- 单位建筑面积能耗  energy per floor area, kgce/m² (we also give kWh/m²)
- 人均综合能耗      energy per person, kgce/person (and kWh/person)
- 人均用水量        water per person, m³/person

Electricity is converted to standard coal at the **equivalent value** (当量值)
of GB/T 2589 (综合能耗计算通则): **0.1229 kgce/kWh** (the heat content of
1 kWh, 3600 kJ, over 29 307 kJ/kgce). The equal-value factor (等价值, the coal
burnt to generate it, ~0.3 kgce/kWh and revised yearly) is *not* used; a
platform that wants it needs a different factor (``kgce_per_kwh``).

Floor area and occupants come from the site file (``site.floor_area_m2``,
``site.occupants``). Pure functions: daily totals in, figures out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

#: kgce per kWh, equivalent value (当量值), GB/T 2589
KGCE_PER_KWH = 0.1229
Granularity = Literal["day", "month", "year"]


@dataclass
class DayTotals:
    """One site-local day of a site's main meters."""

    day: date
    kwh: float = 0.0
    cost: Decimal = Decimal(0)
    #: kWh and cost by tariff period
    kwh_by_period: dict[str, float] = field(default_factory=dict)
    cost_by_period: dict[str, Decimal] = field(default_factory=dict)
    water_m3: float = 0.0
    #: highest 15-minute demand of the day (sum of the main meters per interval), kW
    peak_kw: float = 0.0
    intervals: int = 0
    #: intervals that were not "good" (interpolated, partial, reset)
    flagged: int = 0


@dataclass(frozen=True)
class InstitutionStats:
    label: str
    start: date
    #: exclusive
    end: date
    days: int
    kwh: float
    kgce: float
    water_m3: float
    cost: Decimal
    floor_area_m2: float
    occupants: int
    kgce_per_kwh: float

    @property
    def kwh_per_m2(self) -> float:
        return self.kwh / self.floor_area_m2

    @property
    def kgce_per_m2(self) -> float:
        return self.kgce / self.floor_area_m2

    @property
    def kwh_per_person(self) -> float:
        return self.kwh / self.occupants

    @property
    def kgce_per_person(self) -> float:
        return self.kgce / self.occupants

    @property
    def water_m3_per_person(self) -> float:
        return self.water_m3 / self.occupants

    def row(self) -> dict[str, str]:
        return {"period": self.label, "days": str(self.days), "kwh": f"{self.kwh:.3f}",
                "kgce": f"{self.kgce:.3f}", "kwh_per_m2": f"{self.kwh_per_m2:.4f}",
                "kgce_per_m2": f"{self.kgce_per_m2:.4f}",
                "kwh_per_person": f"{self.kwh_per_person:.3f}",
                "kgce_per_person": f"{self.kgce_per_person:.4f}",
                "water_m3": f"{self.water_m3:.3f}",
                "water_m3_per_person": f"{self.water_m3_per_person:.4f}",
                "cost_cny": f"{self.cost:.2f}"}


def kgce(kwh: float, factor: float = KGCE_PER_KWH) -> float:
    return kwh * factor


def _key(day: date, granularity: Granularity) -> tuple[str, date, date]:
    if granularity == "day":
        return day.isoformat(), day, day + timedelta(days=1)
    if granularity == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        return f"{day.year:04d}-{day.month:02d}", start, end
    start = date(day.year, 1, 1)
    return f"{day.year:04d}", start, date(day.year + 1, 1, 1)


def institution_stats(days: Iterable[DayTotals], floor_area_m2: float, occupants: int,
                      granularity: Granularity = "day",
                      kgce_per_kwh: float = KGCE_PER_KWH) -> list[InstitutionStats]:
    """Totals per day, month or year (calendar periods; partial periods cover the days given)."""
    if floor_area_m2 <= 0 or occupants <= 0:
        raise ValueError("floor area and occupants must be positive")
    groups: dict[str, tuple[date, date, list[DayTotals]]] = {}
    for d in days:
        label, start, end = _key(d.day, granularity)
        groups.setdefault(label, (start, end, []))[2].append(d)
    out = []
    for label, (start, end, items) in sorted(groups.items()):
        kwh = sum(d.kwh for d in items)
        out.append(InstitutionStats(label, start, end, len(items), kwh, kgce(kwh, kgce_per_kwh),
                                    sum(d.water_m3 for d in items),
                                    sum((d.cost for d in items), Decimal(0)), floor_area_m2,
                                    occupants, kgce_per_kwh))
    return out


def site_stats(days: Mapping[date, DayTotals], floor_area_m2: float, occupants: int
               ) -> dict[Granularity, list[InstitutionStats]]:
    """Day, month and year statistics at once (what the report shows)."""
    ordered = [days[d] for d in sorted(days)]
    return {g: institution_stats(ordered, floor_area_m2, occupants, g)
            for g in ("day", "month", "year")}
