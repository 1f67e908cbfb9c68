"""``escogw report``: energy, cost, demand, savings, comfort and the public-institution
statistics of a date range, from the historian's InfluxDB, as one self-contained HTML
page with SVG plots plus CSV files.

Sources (docs/mqtt.md schema):

- ``energy_interval`` (the accountant's 15-minute intervals): kWh, cost, tariff
  period and demand of every meter; the site's energy is the sum of its main meters
  (site-file tag ``role: main``, else every electricity meter);
- water: ``m3`` of the water meters' intervals when the historian stores it, else
  the water meters' ``volume_m3`` counter readings (measurement ``water``) run
  through the same accountant;
- comfort: 5-minute means of ``room_temp_c`` (measurement ``hvac``) of every unit
  with a ``zone`` tag (zones exempted by the rule file left out), against the band
  (26–28 °C in the cooling months, 18–20 °C otherwise) during occupied hours —
  08:00–18:00 on working days of the national calendar (no occupancy data is stored);
- degree days for the baseline: a CSV of daily mean outdoor temperatures, or an
  outdoor temperature point in InfluxDB (hourly means).

Days are site-local. Output folder: ``report.html``, ``daily.csv``,
``intervals.csv``, ``statistics_{day,month,year}.csv``, ``comfort.csv``,
``savings.csv`` and ``baseline.json`` (when there is a baseline).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway.acquisition.reading import Reading
from gateway.core.calendar import WORKING, SiteCalendar
from gateway.core.site import Site, load_site
from gateway.core.sourcefile import ConfigError, Problem
from gateway.energy import svg
from gateway.energy.accounting import IntervalAccountant, main_meters, site_meters
from gateway.energy.baseline import (
    BaselineModel,
    DayObs,
    NonRoutine,
    Savings,
    Trusteeship,
    degree_days,
    fit_baseline,
    savings,
    trusteeship,
)
from gateway.energy.comfort import BAND_TEXT, comfort_band, outside_band
from gateway.energy.influx import InfluxReader, Row, quote_ident, quote_str, rfc3339
from gateway.energy.stats import KGCE_PER_KWH, DayTotals, InstitutionStats, site_stats
from gateway.energy.tariff import Tariff, load_site_tariff, money

PERIOD_ORDER = ("valley", "flat", "peak", "sharp")
OCCUPIED = (time(8, 0), time(18, 0))


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


@dataclass
class Comfort:
    """Per zone: K·h outside the band in occupied hours, and those hours."""

    kh: dict[str, float] = field(default_factory=dict)
    hours: dict[str, float] = field(default_factory=dict)
    by_day: dict[date, dict[str, float]] = field(default_factory=dict)
    band_note: str = ""

    @property
    def kh_per_zone(self) -> float:
        return sum(self.kh.values()) / len(self.kh) if self.kh else 0.0


@dataclass
class ReportData:
    site: Site
    days: dict[date, DayTotals]
    #: (local start, kW) of the site's 15-minute demand (main meters summed)
    demand: list[tuple[datetime, float]]
    comfort: Comfort
    stats: dict[str, list[InstitutionStats]]
    demand_limit_kw: float | None
    tariff: Tariff | None
    baseline: BaselineModel | None = None
    savings: Savings | None = None
    trustee: Trusteeship | None = None
    notes: list[str] = field(default_factory=list)
    intervals: list[Row] = field(default_factory=list)
    month_peaks: dict[str, float] = field(default_factory=dict)
    demand_charge: Decimal | None = None


@dataclass
class ReportResult:
    html: Path
    files: list[Path]
    summary: list[str]
    data: ReportData


def _local_range(tz: ZoneInfo, start: date, end: date) -> tuple[datetime, datetime]:
    a = datetime.combine(start, time(0), tz)
    b = datetime.combine(end + timedelta(days=1), time(0), tz)
    return a, b


def _where(site_id: str, a: datetime, b: datetime) -> str:
    return f"site = {quote_str(site_id)} AND time >= {rfc3339(a)} AND time < {rfc3339(b)}"


class Collector:
    """Turns InfluxDB rows into daily totals, demand, comfort and degree days."""

    def __init__(self, site: Site, reader: InfluxReader, site_id: str | None = None):
        self.site = site
        self.reader = reader
        self.site_id = site_id or site.id
        self.tz = site.tz
        meters = site_meters(site)
        self.main = set(main_meters(meters))
        self.water = set(main_meters(meters, "m3"))
        self.calendar = SiteCalendar()

    def intervals(self, start: date, end: date) -> list[Row]:
        a, b = _local_range(self.tz, start, end)
        return self.reader.query(f"SELECT * FROM energy_interval WHERE {_where(self.site_id, a, b)}"
                                 " GROUP BY *")

    def daily(self, start: date, end: date, rows: Sequence[Row] | None = None
              ) -> tuple[dict[date, DayTotals], list[tuple[datetime, float]]]:
        rows = self.intervals(start, end) if rows is None else rows
        days = {start + timedelta(days=i): DayTotals(start + timedelta(days=i))
                for i in range((end - start).days + 1)}
        demand: dict[datetime, float] = {}
        water_seen = False
        for r in rows:
            dev = r.tags.get("device", "")
            local = r.time.astimezone(self.tz)
            d = days.get(local.date())
            if d is None:
                continue
            m3 = r.num("m3")
            if dev in self.water and m3 is not None:
                d.water_m3 += m3
                water_seen = True
                continue
            if dev not in self.main:
                continue
            kwh = r.num("kwh") or 0.0
            cost = Decimal(str(r.num("cost") or 0.0))
            period = r.tags.get("period") or "flat"
            d.kwh += kwh
            d.cost += cost
            d.kwh_by_period[period] = d.kwh_by_period.get(period, 0.0) + kwh
            d.cost_by_period[period] = d.cost_by_period.get(period, Decimal(0)) + cost
            d.intervals += 1
            if r.fields.get("quality") not in (None, "good"):
                d.flagged += 1
            demand[local] = demand.get(local, 0.0) + (r.num("demand_kw") or kwh * 4)
        for t, kw in demand.items():
            d = days[t.date()]
            d.peak_kw = max(d.peak_kw, kw)
        if not water_seen and self.water:
            self._water_from_counters(start, end, days)
        return days, sorted(demand.items())

    def _water_from_counters(self, start: date, end: date, days: dict[date, DayTotals]) -> None:
        a, b = _local_range(self.tz, start, end)
        rows = self.reader.query(
            f"SELECT volume_m3 FROM water WHERE {_where(self.site_id, a - timedelta(hours=1), b)}"
            " GROUP BY device")
        meters = [m for m in site_meters(self.site) if m.unit == "m3"]
        acc = IntervalAccountant(meters, self.tz)
        for seq, r in enumerate(sorted(rows, key=lambda r: r.time)):
            v = r.num("volume_m3")
            if v is None:
                continue
            for iv in acc.add(Reading(r.tags.get("device", ""), r.time, seq, {"volume_m3": v})):
                d = days.get(iv.start.astimezone(self.tz).date())
                if d is not None and iv.quality != "partial":
                    d.water_m3 += iv.amount

    def comfort(self, start: date, end: date, exempt: set[str],
                cooling_months: frozenset[int]) -> Comfort:
        a, b = _local_range(self.tz, start, end)
        rows = self.reader.query(
            f"SELECT mean(room_temp_c) AS t FROM hvac WHERE {_where(self.site_id, a, b)} "
            "GROUP BY time(5m), device fill(none)")
        zone_of = {d.id: d.config.tags.get("zone") for d in self.site.devices.values()
                   if d.profile.kind == "hvac"}
        out = Comfort(band_note=f"{BAND_TEXT}; occupied 08:00–18:00 on working days")
        for r in rows:
            zone = zone_of.get(r.tags.get("device", ""))
            t = r.num("t")
            if zone is None or zone in exempt or t is None:
                continue
            local = r.time.astimezone(self.tz)
            day = local.date()
            if self.calendar.day(day).type not in WORKING:
                continue
            if not OCCUPIED[0] <= local.time() < OCCUPIED[1]:
                continue
            dev = outside_band(t, comfort_band(local.month in cooling_months))
            h = 5 / 60
            out.kh[zone] = out.kh.get(zone, 0.0) + dev * h
            out.hours[zone] = out.hours.get(zone, 0.0) + h
            per = out.by_day.setdefault(day, {})
            per[zone] = per.get(zone, 0.0) + dev * h
        return out

    def outdoor_days(self, start: date, end: date, ref: str) -> dict[date, float]:
        """Daily mean outdoor temperature from hourly means of DEVICE.POINT (any measurement)."""
        device, _, point = ref.partition(".")
        if not device or not point:
            raise ConfigError([Problem("command line", None, "--outdoor",
                                       "expected DEVICE.POINT, e.g. weather-1.outdoor_temp_c")])
        a, b = _local_range(self.tz, start, end)
        rows = self.reader.query(
            f"SELECT mean({quote_ident(point)}) AS t FROM /.*/ WHERE "
            f"{_where(self.site_id, a, b)} AND device = {quote_str(device)} "
            "GROUP BY time(1h) fill(none)")
        hourly: dict[date, list[float]] = {}
        for r in rows:
            t = r.num("t")
            if t is not None:
                hourly.setdefault(r.time.astimezone(self.tz).date(), []).append(t)
        return {d: sum(v) / len(v) for d, v in hourly.items()}

    def observations(self, days: dict[date, DayTotals],
                     temps: dict[date, float]) -> list[DayObs]:
        out = []
        for d, totals in sorted(days.items()):
            if d not in temps or totals.intervals == 0:
                continue
            cdd, hdd = degree_days(temps[d])
            out.append(DayObs(d, totals.kwh, cdd, hdd,
                              self.calendar.day(d).type in WORKING))
        return out


def read_weather_csv(path: Path) -> dict[date, float]:
    """``date,mean_temp_c`` rows (a header line first; # comments allowed)."""
    out: dict[date, float] = {}
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, "", f"cannot read: {exc.strerror}")]) from None
    header_seen = False
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        if not header_seen:
            if cells[:2] != ["date", "mean_temp_c"]:
                raise ConfigError([Problem(str(path), n, "header",
                                           "expected the header date,mean_temp_c")])
            header_seen = True
            continue
        try:
            out[date.fromisoformat(cells[0])] = float(cells[1])
        except (ValueError, IndexError):
            raise ConfigError([Problem(str(path), n, "row", f"not a date,number row: {line!r}")
                               ]) from None
    return out


def collect(opts: ReportOptions) -> ReportData:
    site = load_site(opts.site_path)
    reader = InfluxReader(opts.influx_url, opts.database, opts.username, opts.password)
    col = Collector(site, reader, opts.site_id)
    notes: list[str] = []
    tariff: Tariff | None = None
    try:
        tariff = load_site_tariff(site.spec.site.tariff, where=str(opts.site_path),
                                  site_path=opts.site_path)
    except ConfigError as exc:
        notes.append(f"tariff not loaded: {exc}")
    limit = opts.demand_limit_kw
    exempt: set[str] = set()
    cooling_months = frozenset(range(5, 11))
    if opts.rules_path is not None:
        from gateway.control.rules import load_rules

        rules = load_rules(opts.rules_path, site)
        exempt = set(rules.policy.exemptions)
        cooling_months = rules.policy.cooling_months
        if limit is None and rules.demand is not None:
            limit = rules.demand.limit_kw
    rows = col.intervals(opts.start, opts.end)
    days, demand = col.daily(opts.start, opts.end, rows)
    comfort = col.comfort(opts.start, opts.end, exempt, cooling_months)
    info = site.spec.site
    data = ReportData(site, days, [(t, kw) for t, kw in demand], comfort,
                      {str(g): v for g, v in site_stats(days, info.floor_area_m2,
                                                        info.occupants).items()}, limit, tariff,
                      notes=notes, intervals=rows)
    for t, kw in demand:
        key = f"{t.year:04d}-{t.month:02d}"
        data.month_peaks[key] = max(data.month_peaks.get(key, 0.0), kw)
    if tariff is not None:
        total = Decimal(0)
        known = False
        for month, kw in data.month_peaks.items():
            charge = tariff.demand_charge(date.fromisoformat(month + "-01"))
            if charge is not None:
                value = charge.monthly(Decimal(f"{kw:.3f}"))
                if value is not None:
                    total += value
                    known = True
        data.demand_charge = total if known else None
    _baseline(opts, col, data)
    return data


def _temps(opts: ReportOptions, col: Collector, start: date, end: date) -> dict[date, float]:
    if opts.weather_csv is not None:
        return read_weather_csv(opts.weather_csv)
    if opts.outdoor is not None:
        return col.outdoor_days(start, end, opts.outdoor)
    return {}


def _baseline(opts: ReportOptions, col: Collector, data: ReportData) -> None:
    info = data.site.spec.site
    model: BaselineModel | None = None
    if opts.baseline_path is not None:
        try:
            model = BaselineModel.from_json(json.loads(opts.baseline_path.read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError([Problem(str(opts.baseline_path), None, "",
                                       f"not a baseline model: {exc}")]) from None
    elif opts.baseline_from is not None and opts.baseline_to is not None:
        temps = _temps(opts, col, opts.baseline_from, opts.baseline_to)
        if not temps:
            data.notes.append("baseline not fitted: no outdoor temperatures (--weather or "
                              "--outdoor)")
            return
        base_days, _ = col.daily(opts.baseline_from, opts.baseline_to)
        obs = col.observations(base_days, temps)
        try:
            model = fit_baseline(obs, floor_area_m2=opts.baseline_area_m2 or info.floor_area_m2,
                                 occupants=opts.baseline_occupants or info.occupants)
        except ValueError as exc:
            data.notes.append(f"baseline not fitted: {exc}")
            return
    if model is None:
        return
    data.baseline = model
    temps = _temps(opts, col, opts.start, opts.end)
    obs = col.observations(data.days, temps)
    if not obs:
        data.notes.append("savings not computed: no outdoor temperatures for the report days")
        return
    adjust = NonRoutine(floor_area_m2=info.floor_area_m2, occupants=info.occupants)
    data.savings = savings(model, [(o, data.days[o.day].cost) for o in obs], adjust)
    data.trustee = trusteeship(data.savings, opts.fee_coefficient,
                               data.demand_charge or Decimal(0), opts.om_cost)


# -- output --------------------------------------------------------------------------------------


def _csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_report(opts: ReportOptions) -> ReportResult:
    data = collect(opts)
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    files = _write_csvs(data, out)
    if data.baseline is not None:
        path = out / "baseline.json"
        path.write_text(json.dumps(data.baseline.to_json(), indent=2), encoding="utf-8")
        files.append(path)
    html = out / "report.html"
    html.write_text(render_html(data, opts), encoding="utf-8")
    return ReportResult(html, files, summary(data), data)


def _periods(data: ReportData) -> list[str]:
    seen = {p for d in data.days.values() for p in d.kwh_by_period}
    return [p for p in PERIOD_ORDER if p in seen] + sorted(seen - set(PERIOD_ORDER))


def _write_csvs(data: ReportData, out: Path) -> list[Path]:
    periods = _periods(data)
    files = []
    rows = []
    for d in sorted(data.days):
        t = data.days[d]
        rows.append([d.isoformat(), f"{t.kwh:.3f}", f"{money(t.cost)}",
                     *[f"{t.kwh_by_period.get(p, 0.0):.3f}" for p in periods],
                     *[f"{money(t.cost_by_period.get(p, Decimal(0)))}" for p in periods],
                     f"{t.peak_kw:.3f}", f"{t.water_m3:.3f}", t.intervals, t.flagged])
    files.append(_csv(out / "daily.csv", ["date", "kwh", "cost_cny",
                                          *[f"kwh_{p}" for p in periods],
                                          *[f"cost_{p}_cny" for p in periods],
                                          "peak_15min_kw", "water_m3", "intervals",
                                          "intervals_flagged"], rows))
    ivs = [[r.time.astimezone(data.site.tz).isoformat(), r.tags.get("device", ""),
            r.tags.get("period", ""), r.fields.get("kwh"), r.fields.get("m3"),
            r.fields.get("price"), r.fields.get("cost"), r.fields.get("demand_kw"),
            r.fields.get("quality")] for r in sorted(data.intervals, key=lambda r: r.time)]
    files.append(_csv(out / "intervals.csv", ["start", "device", "period", "kwh", "m3",
                                              "price_cny_kwh", "cost_cny", "demand_kw",
                                              "quality"], ivs))
    for g, items in data.stats.items():
        if items:
            header = list(items[0].row())
            files.append(_csv(out / f"statistics_{g}.csv", header,
                              [list(i.row().values()) for i in items]))
    zones = sorted(data.comfort.kh)
    files.append(_csv(out / "comfort.csv", ["date", *zones],
                      [[d.isoformat(), *[f"{v.get(z, 0.0):.3f}" for z in zones]]
                       for d, v in sorted(data.comfort.by_day.items())]))
    if data.savings is not None:
        files.append(_csv(out / "savings.csv",
                          ["date", "baseline_kwh", "adjusted_baseline_kwh", "actual_kwh",
                           "avoided_kwh", "price_cny_kwh", "adjusted_cost_cny",
                           "actual_cost_cny", "avoided_cost_cny"],
                          [[s.day.isoformat(), f"{s.baseline_kwh:.3f}", f"{s.adjusted_kwh:.3f}",
                            f"{s.actual_kwh:.3f}", f"{s.avoided_kwh:.3f}", f"{s.price:.6f}",
                            f"{money(s.adjusted_cost)}", f"{money(s.actual_cost)}",
                            f"{money(s.avoided_cost)}"] for s in data.savings.days]))
    return files


def summary(data: ReportData) -> list[str]:
    days = list(data.days.values())
    kwh = sum(d.kwh for d in days)
    cost = sum((d.cost for d in days), Decimal(0))
    peak = max((d.peak_kw for d in days), default=0.0)
    out = [f"{data.site.id}: {len(days)} days, {kwh:.1f} kWh, {money(cost)} CNY, peak 15-min "
           f"demand {peak:.1f} kW"
           + (f" (limit {data.demand_limit_kw:g} kW)" if data.demand_limit_kw else "")]
    if data.baseline is not None:
        out.append(f"baseline: {data.baseline.summary()}")
    if data.savings is not None:
        s = data.savings
        out.append(f"savings: {s.avoided_kwh:.1f} kWh ({s.avoided_pct:.1f} %), "
                   f"{money(s.avoided_cost)} CNY against the adjusted baseline")
    out.append(f"comfort: {data.comfort.kh_per_zone:.2f} K·h per zone outside the band")
    out += data.notes
    return out


def _date_fmt(days: list[date]) -> svg.Formatter:
    def fmt(v: float) -> str:
        i = round(v)
        return days[i].strftime("%m-%d") if 0 <= i < len(days) else ""
    return fmt


def render_html(data: ReportData, opts: ReportOptions) -> str:
    site = data.site
    info = site.spec.site
    days = sorted(data.days)
    cats = [d.strftime("%m-%d") for d in days]
    periods = _periods(data)
    total_kwh = sum(d.kwh for d in data.days.values())
    total_cost = sum((d.cost for d in data.days.values()), Decimal(0))
    peak = max((d.peak_kw for d in data.days.values()), default=0.0)
    parts = [f"<h1>Energy report — {escape(info.name or site.id)}</h1>",
             f'<p class="note">Site {escape(site.id)}, {opts.start} to {opts.end} (site-local '
             f"days, {escape(info.timezone)}); floor area {info.floor_area_m2:g} m², "
             f"{info.occupants} occupants. Source: InfluxDB {escape(opts.influx_url)} database "
             f"{escape(opts.database)}.</p>"]
    if data.tariff is not None:
        parts.append(f'<p class="note">Tariff: {escape(data.tariff.describe())}</p>')
    parts.append(svg.table(["", "value"], [
        ["energy (main meters)", f"{total_kwh:,.1f} kWh"],
        ["energy cost", f"{money(total_cost)} CNY"],
        ["peak 15-minute demand", f"{peak:.1f} kW" + (
            f" (limit {data.demand_limit_kw:g} kW)" if data.demand_limit_kw else "")],
        ["demand charge", "unknown (the tariff has no price per kW)"
         if data.demand_charge is None else f"{money(data.demand_charge)} CNY"],
        ["comfort", f"{data.comfort.kh_per_zone:.2f} K·h per zone outside the band"],
    ]))
    parts.append("<h2>Daily energy and cost by tariff period</h2>")
    parts.append(svg.BarChart("Energy by tariff period", cats, [
        svg.Stack(p, [data.days[d].kwh_by_period.get(p, 0.0) for d in days],
                  svg.PERIOD_BAR_COLOURS.get(p)) for p in periods], y_label="kWh").render())
    parts.append(svg.BarChart("Cost by tariff period", cats, [
        svg.Stack(p, [float(data.days[d].cost_by_period.get(p, Decimal(0))) for d in days],
                  svg.PERIOD_BAR_COLOURS.get(p)) for p in periods], y_label="CNY").render())
    parts.append("<h2>Demand</h2>")
    hl = [svg.HLine(data.demand_limit_kw, f"limit {data.demand_limit_kw:g} kW")] \
        if data.demand_limit_kw else []
    parts.append(svg.BarChart("Daily peak 15-minute demand", cats, [
        svg.Stack("peak 15-min demand", [data.days[d].peak_kw for d in days], "#0072B2")],
        y_label="kW", hlines=list(hl)).render())
    if data.demand and len(days) <= 14:
        t0 = datetime.combine(days[0], time(0), site.tz)
        pts = [((t - t0).total_seconds() / 86400, kw) for t, kw in data.demand]
        chart = svg.LineChart("15-minute demand", y_label="kW", x_label="day",
                              series=[svg.Series("demand", pts, "#0072B2", step=True)],
                              hlines=list(hl), x_range=(0.0, float(len(days))),
                              x_ticks=[float(i) for i in range(len(days) + 1)],
                              x_format=_date_fmt([*days, days[-1] + timedelta(days=1)]))
        if data.tariff is not None and len(days) <= 3:
            spans = []
            for i, d in enumerate(days):
                for k in range(96):
                    at = datetime.combine(d, time(0)) + timedelta(minutes=15 * k)
                    spans.append((i + k / 96, i + (k + 1) / 96,
                                  data.tariff.rate_at(at).period))
            chart.bands = svg.period_bands(spans)
        parts.append(chart.render())
    if data.month_peaks:
        parts.append(svg.table(["month", "peak 15-min demand (kW)"],
                               [[m, f"{kw:.2f}"] for m, kw in sorted(data.month_peaks.items())]))
    parts.append("<h2>Savings against the baseline</h2>")
    if data.baseline is not None:
        verdict = "good" if data.baseline.accepted else "bad"
        parts.append(f'<p class="{verdict}">{escape(data.baseline.summary())}</p>')
    if data.savings is not None:
        s = data.savings
        sdays = [x.day for x in s.days]
        parts.append(svg.BarChart("Actual energy against the adjusted baseline",
                                  [d.strftime("%m-%d") for d in sdays],
                                  [svg.Stack("actual", [x.actual_kwh for x in s.days],
                                             "#0072B2")],
                                  y_label="kWh", markers=[svg.Series(
                                      "adjusted baseline",
                                      [(float(i), x.adjusted_kwh) for i, x in enumerate(s.days)],
                                      "#D55E00")]).render())
        run = Decimal(0)
        cum = []
        for i, x in enumerate(s.days):
            run += x.avoided_cost
            cum.append((float(i), float(run)))
        parts.append(svg.LineChart("Cumulative avoided cost", y_label="CNY", series=[
            svg.Series("avoided cost", cum, "#009E73")], x_ticks=[float(i) for i in
                                                                 range(len(sdays))],
            x_format=_date_fmt(sdays)).render())
        rows = [["adjusted baseline", f"{s.adjusted_kwh:,.1f} kWh", f"{money(s.adjusted_cost)}"],
                ["actual", f"{s.actual_kwh:,.1f} kWh", f"{money(s.actual_cost)}"],
                ["avoided", f"{s.avoided_kwh:,.1f} kWh ({s.avoided_pct:.1f} %)",
                 f"{money(s.avoided_cost)}"]]
        parts.append(svg.table(["", "energy", "cost (CNY)"], rows))
        if data.trustee is not None:
            t = data.trustee
            parts.append("<h2>Trusteeship view (能源费用托管)</h2>")
            parts.append(svg.table(["", "CNY"], [
                ["contract fee (adjusted baseline cost × "
                 f"{t.fee_coefficient})", f"{money(t.contract_fee)}"],
                ["actual bill (energy + demand charge)", f"{money(t.actual_bill)}"],
                ["O&M", f"{money(t.om_cost)}"],
                ["ESCO margin", f"{money(t.margin)}"],
                ["client's saving against the baseline bill", f"{money(t.client_saving)}"]]))
    else:
        parts.append('<p class="note">No savings: give a baseline (--baseline FILE, or '
                     "--baseline-from/--baseline-to) and outdoor temperatures (--weather or "
                     "--outdoor).</p>")
    parts.append("<h2>Comfort</h2>")
    parts.append(f'<p class="note">K·h outside the band per zone ({escape(data.comfort.band_note)}'
                 ").</p>")
    if data.comfort.kh:
        zones = sorted(data.comfort.kh)
        parts.append(svg.BarChart("Discomfort per zone over the period", zones, [
            svg.Stack("K·h", [data.comfort.kh[z] for z in zones], "#CC79A7")],
            y_label="K·h").render())
    parts.append("<h2>Public-institution statistics</h2>")
    parts.append(f'<p class="note">Electricity at {KGCE_PER_KWH} kgce/kWh (equivalent value, '
                 f"GB/T 2589); floor area {info.floor_area_m2:g} m², {info.occupants} "
                 "occupants (site file).</p>")
    for g in ("year", "month", "day"):
        items = data.stats.get(g, [])
        if not items:
            continue
        parts.append(f"<h3>by {g}</h3>")
        parts.append(svg.table(
            ["period", "kWh", "kgce", "kWh/m²", "kgce/m²", "kWh/person", "kgce/person",
             "water m³", "m³/person", "cost CNY"],
            [[i.label, f"{i.kwh:,.1f}", f"{i.kgce:,.2f}", f"{i.kwh_per_m2:.3f}",
              f"{i.kgce_per_m2:.4f}", f"{i.kwh_per_person:.2f}", f"{i.kgce_per_person:.3f}",
              f"{i.water_m3:.2f}", f"{i.water_m3_per_person:.4f}", f"{money(i.cost)}"]
             for i in items]))
    flagged = sum(d.flagged for d in data.days.values())
    n = sum(d.intervals for d in data.days.values())
    parts.append("<h2>Data quality</h2>")
    parts.append(f'<p class="note">{n} main-meter intervals, {flagged} not "good" '
                 "(interpolated over a gap, partial after a cold start, or a meter reset).</p>")
    for note in data.notes:
        parts.append(f'<p class="bad">{escape(note)}</p>')
    parts.append(f'<p class="note">Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by escogw '
                 "report.</p>")
    return svg.page(f"Energy report {site.id} {opts.start}..{opts.end}", "\n".join(parts))
