"""What the report knows once it has read the database: the options it was run with and the
collected data (``report.collect`` fills them; ``report_html``, ``report_csv`` and
``report_text`` show them). No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from gateway.core.site import Site
from gateway.energy.audit_summary import AuditSummary
from gateway.energy.baseline import BaselineModel, Savings, Trusteeship
from gateway.energy.comfort import DiscomfortTally
from gateway.energy.coverage import DayCoverage, period_fraction
from gateway.energy.influx import Row
from gateway.energy.report_charging import ChargingReport
from gateway.energy.settlement import MonthRow
from gateway.energy.stats import DayTotals, InstitutionStats
from gateway.energy.tariff import Tariff


@dataclass
class ReportOptions:
    site_path: Path
    start: date
    end: date
    influx_url: str
    database: str
    out: Path
    username: str | None = None
    password: str | None = None
    rules_path: Path | None = None
    demand_limit_kw: float | None = None
    baseline_path: Path | None = None
    baseline_from: date | None = None
    baseline_to: date | None = None
    weather_csv: Path | None = None
    outdoor: str | None = None
    baseline_area_m2: float | None = None
    baseline_occupants: int | None = None
    fee_coefficient: Decimal = Decimal(1)
    om_cost: Decimal = Decimal(0)
    site_id: str | None = None
    #: CNY per m³ of water (None: the water cost is not computed)
    water_price: Decimal | None = None


class NoReadings(Exception):
    """The period has no main-meter interval at all: there is nothing to report."""


@dataclass
class AcDay:
    """One day of the AC sub-meters (``role: ac``)."""

    kwh: float = 0.0
    cost: Decimal = Decimal(0)
    peak_kw: float = 0.0
    intervals: int = 0


@dataclass(frozen=True)
class Register:
    """A meter's first and last stored counter reading in the period (for the utility bill)."""

    device: str
    #: the nameplate address (DL/T 645 / CJ/T 188) where the site file has one
    address: str | None
    role: str
    unit: str
    first_at: datetime | None
    first: float | None
    last_at: datetime | None
    last: float | None

    @property
    def delta(self) -> float | None:
        return self.last - self.first if self.first is not None and self.last is not None \
            else None


@dataclass(frozen=True)
class WaterBaseline:
    """Mean daily water use of the baseline period, by working day and day off."""

    start: date
    end: date
    workday_m3: float | None
    offday_m3: float | None

    def expected(self, workday: bool) -> float | None:
        return self.workday_m3 if workday else self.offday_m3


@dataclass
class ReportData:
    site: Site
    days: dict[date, DayTotals]
    #: (local start, kW) of every quarter-hour from the first day to the last covered one;
    #: None where a main meter has no interval
    demand: list[tuple[datetime, float | None]]
    comfort: DiscomfortTally
    stats: dict[str, list[InstitutionStats]]
    demand_limit_kw: float | None
    tariff: Tariff | None
    coverage: dict[date, DayCoverage]
    main: list[str]
    ac: list[str]
    ac_days: dict[date, AcDay]
    registers: list[Register]
    audit: AuditSummary
    #: the comfort judgement's occupancy: "sensor", "schedule" or "both"
    occupancy_source: str = "schedule"
    baseline: BaselineModel | None = None
    savings: Savings | None = None
    trustee: Trusteeship | None = None
    settlement: list[MonthRow] = field(default_factory=list)
    water_baseline: WaterBaseline | None = None
    #: a baseline period was read for water (with or without finding any)
    water_baseline_read: bool = False
    water_price: Decimal | None = None
    notes: list[str] = field(default_factory=list)
    intervals: list[Row] = field(default_factory=list)
    month_peaks: dict[str, float] = field(default_factory=dict)
    #: per month; None where the tariff has no price per kW
    month_demand_charges: dict[str, Decimal | None] = field(default_factory=dict)
    demand_charge: Decimal | None = None
    workdays: dict[date, bool] = field(default_factory=dict)
    #: the car park's section; None when the site file declares no chargers
    charging: ChargingReport | None = None

    @property
    def coverage_fraction(self) -> float:
        return period_fraction(self.coverage.values())

    @property
    def partial_days(self) -> list[DayCoverage]:
        return [c for _d, c in sorted(self.coverage.items()) if not c.complete]


@dataclass
class ReportResult:
    html: Path
    files: list[Path]
    summary: list[str]
    data: ReportData
