"""``escogw report``: a settlement-grade report of a date range, from the historian's
InfluxDB: energy, cost, demand, the AC sub-meter, coverage, savings and the monthly
settlement, comfort, water, register readings and what the control loop did — as one
self-contained HTML page (``report_html``) plus CSV files (``report_csv``).

Absence is never passed off as data: a period without a single main-meter interval is an
error (``NoReadings``); a day with some quarter-hours missing is *partial*, shown with its
coverage and its missing intervals; what the database does not hold (control events, a
demand price, a water price) is said to be unavailable, not printed as 0.

Sources (docs/mqtt.md schema):

- ``energy_interval`` (the accountant's 15-minute intervals): kWh, cost, tariff period and
  demand of every meter; the site's energy is the sum of its main meters (site-file tag
  ``role: main``, else every electricity meter); the AC sub-meter is ``role: ac``;
- water: ``m3`` of the water meters' intervals when the historian stores it, else the water
  meters' ``volume_m3`` counter readings (measurement ``water``) through the accountant;
- register readings: the first and last stored counter reading of every meter in the
  period (measurements ``meter`` and ``water``);
- comfort: 5-minute means of ``room_temp_c`` (and ``occupied`` where a unit has an
  occupancy sensor) of every unit with a ``zone`` tag, judged as ``comfort`` defines it;
- control: ``control_event`` (``audit_summary``);
- the car park, when the site file declares one: ``ev_connector`` and ``ev_session``
  (``report_charging``);
- degree days for the baseline: a CSV of daily mean outdoor temperatures, or an outdoor
  temperature point in InfluxDB (hourly means).

Days are site-local.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway.acquisition.reading import Reading
from gateway.core.calendar import WORKING, SiteCalendar
from gateway.core.site import Site, load_site
from gateway.core.sourcefile import ConfigError, Problem
from gateway.energy.accounting import ENERGY_POINT, IntervalAccountant, main_meters, site_meters
from gateway.energy.audit_summary import summarise
from gateway.energy.baseline import (
    BaselineModel,
    DayObs,
    NonRoutine,
    degree_days,
    fit_baseline,
    savings,
    trusteeship,
)
from gateway.energy.comfort import DiscomfortTally, comfort_band, scheduled_occupied
from gateway.energy.coverage import QUARTER, coverage
from gateway.energy.influx import InfluxReader, Row, quote_ident, quote_str, rfc3339
from gateway.energy.report_charging import charging_kw, charging_report, peak_windows
from gateway.energy.report_csv import write_csvs
from gateway.energy.report_data import (
    AcDay,
    NoReadings,
    Register,
    ReportData,
    ReportOptions,
    ReportResult,
    WaterBaseline,
)
from gateway.energy.report_html import render_html
from gateway.energy.report_text import summary
from gateway.energy.settlement import month_key, settle
from gateway.energy.stats import DayTotals, site_stats
from gateway.energy.tariff import Tariff, load_site_tariff
from gateway.i18n import _

__all__ = ["Collector", "NoReadings", "ReportData", "ReportOptions", "ReportResult", "collect",
           "read_weather_csv", "write_report"]


def _local_range(tz: ZoneInfo, start: date, end: date) -> tuple[datetime, datetime]:
    a = datetime.combine(start, time(0), tz)
    b = datetime.combine(end + timedelta(days=1), time(0), tz)
    return a, b


def _where(site_id: str, a: datetime, b: datetime) -> str:
    return f"site = {quote_str(site_id)} AND time >= {rfc3339(a)} AND time < {rfc3339(b)}"


class Collector:
    """Reads the period's rows from InfluxDB and turns them into daily totals, demand,
    comfort, register readings and degree days."""

    def __init__(self, site: Site, reader: InfluxReader, site_id: str | None = None):
        self.site = site
        self.reader = reader
        self.site_id = site_id or site.id
        self.tz = site.tz
        meters = site_meters(site)
        self.meters = meters
        self.main = set(main_meters(meters))
        self.ac = {m.device for m in meters if m.unit == "kwh" and m.tags.get("role") == "ac"}
        self.water = set(main_meters(meters, "m3"))
        self.calendar = SiteCalendar()

    def workday(self, day: date) -> bool:
        return self.calendar.day(day).type in WORKING

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

    def seen(self, rows: Sequence[Row]) -> dict[str, set[datetime]]:
        """Electricity meter → the starts of its stored intervals."""
        out: dict[str, set[datetime]] = {}
        for r in rows:
            if r.num("kwh") is not None:
                out.setdefault(r.tags.get("device", ""), set()).add(r.time)
        return out

    def ac_daily(self, start: date, end: date, rows: Sequence[Row]) -> dict[date, AcDay]:
        days = {start + timedelta(days=i): AcDay() for i in range((end - start).days + 1)}
        demand: dict[datetime, float] = {}
        for r in rows:
            if r.tags.get("device", "") not in self.ac or r.num("kwh") is None:
                continue
            local = r.time.astimezone(self.tz)
            d = days.get(local.date())
            if d is None:
                continue
            kwh = r.num("kwh") or 0.0
            d.kwh += kwh
            d.cost += Decimal(str(r.num("cost") or 0.0))
            d.intervals += 1
            demand[local] = demand.get(local, 0.0) + (r.num("demand_kw") or kwh * 4)
        for t, kw in demand.items():
            days[t.date()].peak_kw = max(days[t.date()].peak_kw, kw)
        return days

    def _water_from_counters(self, start: date, end: date, days: dict[date, DayTotals]) -> None:
        a, b = _local_range(self.tz, start, end)
        rows = self.reader.query(
            f"SELECT volume_m3 FROM water WHERE {_where(self.site_id, a - timedelta(hours=1), b)}"
            " GROUP BY device")
        meters = [m for m in self.meters if m.unit == "m3"]
        acc = IntervalAccountant(meters, self.tz)
        for seq, r in enumerate(sorted(rows, key=lambda r: r.time)):
            v = r.num("volume_m3")
            if v is None:
                continue
            for iv in acc.add(Reading(r.tags.get("device", ""), r.time, seq, {"volume_m3": v})):
                d = days.get(iv.start.astimezone(self.tz).date())
                if d is not None and iv.quality != "partial":
                    d.water_m3 += iv.amount

    def registers(self, start: date, end: date) -> list[Register]:
        """First and last stored counter reading of every meter of the site in the period."""
        a, b = _local_range(self.tz, start, end)
        out = []
        for m in self.meters:
            dev = self.site.devices[m.device]
            measurement = "meter" if m.point == ENERGY_POINT else "water"
            got: dict[str, tuple[datetime | None, float | None]] = {}
            for fn in ("first", "last"):
                rows = self.reader.query(
                    f"SELECT {fn}({quote_ident(m.point)}) AS v FROM {quote_ident(measurement)} "
                    f"WHERE {_where(self.site_id, a, b)} AND device = {quote_str(m.device)}")
                got[fn] = (rows[0].time.astimezone(self.tz), rows[0].num("v")) if rows \
                    else (None, None)
            out.append(Register(m.device, dev.config.address, m.tags.get("role", ""),
                                "kWh" if m.point == ENERGY_POINT else "m³",
                                got["first"][0], got["first"][1], got["last"][0], got["last"][1]))
        return out

    def comfort(self, start: date, end: date, exempt: set[str],
                cooling_months: frozenset[int]) -> tuple[DiscomfortTally, str]:
        """The zones' discomfort (``comfort.DiscomfortTally``) from 5-minute means; occupied:
        the unit's ``occupied`` sensor where it reports one, else the zone's scheduled
        occupancy (``comfort.scheduled_occupied``). Also says which occupancy was used
        ("sensor", "schedule" or "both")."""
        a, b = _local_range(self.tz, start, end)
        rows = self.reader.query(
            f"SELECT mean(room_temp_c) AS t, mean(occupied) AS occ FROM hvac WHERE "
            f"{_where(self.site_id, a, b)} GROUP BY time(5m), device fill(none)")
        zone_of = {d.id: d.config.tags.get("zone") for d in self.site.devices.values()
                   if d.profile.kind == "hvac"}
        use_of = {d.config.tags.get("zone"): d.config.tags.get("use")
                  for d in self.site.devices.values() if d.profile.kind == "hvac"}
        #: (zone, local slot) → unit temperatures, occupancy readings
        slots: dict[tuple[str, datetime], tuple[list[float], list[float]]] = {}
        for r in rows:
            zone = zone_of.get(r.tags.get("device", ""))
            t = r.num("t")
            if zone is None or zone in exempt or t is None:
                continue
            temps, occ = slots.setdefault((zone, r.time.astimezone(self.tz)), ([], []))
            temps.append(t)
            o = r.num("occ")
            if o is not None:
                occ.append(o)
        tally = DiscomfortTally()
        sources: set[str] = set()
        for (zone, local), (temps, occ) in sorted(slots.items(), key=lambda kv: kv[0][1]):
            if occ:
                occupied = max(occ) > 0
                sources.add("sensor")
            else:
                occupied = scheduled_occupied(use_of.get(zone), self.workday(local.date()),
                                              local.time())
                sources.add("schedule")
            band = comfort_band(local.month in cooling_months)
            tally.add(zone, sum(temps) / len(temps), band, 5 / 60, occupied, local.date(),
                      local.hour)
        source = "both" if len(sources) == 2 else next(iter(sources), "schedule")
        return tally, source

    def control_events(self, start: date, end: date) -> tuple[list[Row], bool]:
        """The period's control events, and whether the database holds any of the site's."""
        a, b = _local_range(self.tz, start, end)
        rows = self.reader.query(f"SELECT * FROM control_event WHERE {_where(self.site_id, a, b)}"
                                 " GROUP BY *")
        if rows:
            return rows, True
        ever = self.reader.query(f"SELECT count(reason) FROM control_event WHERE site = "
                                 f"{quote_str(self.site_id)}")
        return [], bool(ever and (ever[0].num("count") or 0) > 0)

    def charging_sessions(self, start: date, end: date) -> list[Row]:
        """The car park's sessions that stopped in the period (``ev_session``)."""
        a, b = _local_range(self.tz, start, end)
        return self.reader.query(f"SELECT * FROM ev_session WHERE {_where(self.site_id, a, b)}"
                                 " GROUP BY charger")

    def charging_in(self, at: datetime) -> float | None:
        """The chargers' mean kW in the 15-minute window starting ``at`` (``ev_connector``:
        each connector's stored states averaged, summed); None: no state stored."""
        rows = self.reader.query(
            f"SELECT mean(power_kw) AS kw FROM ev_connector WHERE "
            f"{_where(self.site_id, at, at + QUARTER)} GROUP BY charger, connector")
        return charging_kw(rows)

    def outdoor_days(self, start: date, end: date, ref: str) -> dict[date, float]:
        """Daily mean outdoor temperature from hourly means of DEVICE.POINT (any measurement)."""
        device, _sep, point = ref.partition(".")
        if not device or not point:
            raise ConfigError([Problem("command line", None, "--outdoor",
                                       _("expected DEVICE.POINT, e.g. "
                                         "weather-1.outdoor_temp_c"))])
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

    def observations(self, days: dict[date, DayTotals], temps: dict[date, float],
                     complete: set[date] | None = None) -> list[DayObs]:
        """Days with an outdoor temperature and data (only ``complete`` ones, if given)."""
        out = []
        for d, totals in sorted(days.items()):
            if d not in temps or totals.intervals == 0:
                continue
            if complete is not None and d not in complete:
                continue
            cdd, hdd = degree_days(temps[d])
            out.append(DayObs(d, totals.kwh, cdd, hdd, self.workday(d)))
        return out


def read_weather_csv(path: Path) -> dict[date, float]:
    """``date,mean_temp_c`` rows (a header line first; # comments allowed)."""
    out: dict[date, float] = {}
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, "", _("cannot read: {error}").format(
            error=exc.strerror))]) from None
    header_seen = False
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        if not header_seen:
            if cells[:2] != ["date", "mean_temp_c"]:
                raise ConfigError([Problem(str(path), n, "header",
                                           _("expected the header date,mean_temp_c"))])
            header_seen = True
            continue
        try:
            out[date.fromisoformat(cells[0])] = float(cells[1])
        except (ValueError, IndexError):
            raise ConfigError([Problem(str(path), n, "row", _(
                "not a date,number row: {line}").format(line=repr(line)))]) from None
    return out


def demand_series(tz: ZoneInfo, start: date, rows_demand: Sequence[tuple[datetime, float]],
                  complete: set[datetime]) -> list[tuple[datetime, float | None]]:
    """Every quarter-hour from ``start`` to the last window with data: its demand where every
    main meter has an interval for it (``complete``), else None — lines stop where data do."""
    if not rows_demand:
        return []
    by_start = {t: kw for t, kw in rows_demand}
    last = max(by_start)
    t = datetime.combine(start, time(0), tz).astimezone(UTC)
    out: list[tuple[datetime, float | None]] = []
    while t <= last:
        out.append((t.astimezone(tz), by_start.get(t) if t in complete else None))
        t += QUARTER
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
        notes.append(_("tariff not loaded: {error}").format(error=exc))
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
    main = sorted(col.main)
    seen = col.seen(rows)
    if not any(seen.get(m) for m in main):
        raise NoReadings(_(
            "no readings: site {site} has no interval of its main meters ({meters}) from "
            "{start} to {end} in InfluxDB {url}, database {db}. Nothing to report: check "
            "the dates, --site-id and --db, and that the historian is storing "
            "energy/interval.").format(site=col.site_id, meters=", ".join(main),
                                       start=opts.start, end=opts.end, url=opts.influx_url,
                                       db=opts.database))
    days, demand = col.daily(opts.start, opts.end, rows)
    cov = coverage(sorted(days), col.tz, seen, main)
    complete_windows = set.intersection(*(seen.get(m, set()) for m in main))
    tally, source = col.comfort(opts.start, opts.end, exempt, cooling_months)
    events, stored = col.control_events(opts.start, opts.end)
    series = demand_series(col.tz, opts.start, demand, complete_windows)
    info = site.spec.site
    data = ReportData(
        site, days, series, tally,
        {str(g): v for g, v in site_stats(days, info.floor_area_m2, info.occupants).items()},
        limit, tariff, cov, main, sorted(col.ac), col.ac_daily(opts.start, opts.end, rows),
        col.registers(opts.start, opts.end), summarise(events, stored, series, limit),
        source, notes=notes, intervals=rows, water_price=opts.water_price,
        workdays={d: col.workday(d) for d in days})
    for t, kw in demand:
        key = month_key(t.date())
        data.month_peaks[key] = max(data.month_peaks.get(key, 0.0), kw)
    if tariff is not None:
        known = False
        total = Decimal(0)
        for month, kw in data.month_peaks.items():
            charge = tariff.demand_charge(date.fromisoformat(month + "-01"))
            value = charge.monthly(Decimal(f"{kw:.3f}")) if charge is not None else None
            data.month_demand_charges[month] = value
            if value is not None:
                total += value
                known = True
        data.demand_charge = total if known else None
    if site.spec.charging is not None:  # the car park (report_charging)
        peaks = peak_windows(demand)
        data.charging = charging_report(
            col.charging_sessions(opts.start, opts.end), peaks,
            {month: col.charging_in(at) for month, (at, _kw) in peaks.items()}, col.tz)
    _baseline(opts, col, data)
    return data


def _temps(opts: ReportOptions, col: Collector, start: date, end: date) -> dict[date, float]:
    if opts.weather_csv is not None:
        return read_weather_csv(opts.weather_csv)
    if opts.outdoor is not None:
        return col.outdoor_days(start, end, opts.outdoor)
    return {}


def _water_baseline(col: Collector, days: dict[date, DayTotals], start: date,
                    end: date) -> WaterBaseline | None:
    work = [t.water_m3 for d, t in days.items() if t.water_m3 > 0 and col.workday(d)]
    off = [t.water_m3 for d, t in days.items() if t.water_m3 > 0 and not col.workday(d)]
    if not work and not off:
        return None
    return WaterBaseline(start, end, sum(work) / len(work) if work else None,
                         sum(off) / len(off) if off else None)


def _baseline(opts: ReportOptions, col: Collector, data: ReportData) -> None:
    info = data.site.spec.site
    model: BaselineModel | None = None
    if opts.baseline_path is not None:
        try:
            model = BaselineModel.from_json(json.loads(opts.baseline_path.read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError([Problem(str(opts.baseline_path), None, "", _(
                "not a baseline model: {error}").format(error=exc))]) from None
    elif opts.baseline_from is not None and opts.baseline_to is not None:
        base_days, _demand = col.daily(opts.baseline_from, opts.baseline_to)
        data.water_baseline = _water_baseline(col, base_days, opts.baseline_from,
                                              opts.baseline_to)
        data.water_baseline_read = True
        temps = _temps(opts, col, opts.baseline_from, opts.baseline_to)
        if not temps:
            data.notes.append(_("baseline not fitted: no outdoor temperatures (--weather or "
                                "--outdoor)"))
            return
        obs = col.observations(base_days, temps)
        try:
            model = fit_baseline(obs, floor_area_m2=opts.baseline_area_m2 or info.floor_area_m2,
                                 occupants=opts.baseline_occupants or info.occupants)
        except ValueError as exc:
            data.notes.append(_("baseline not fitted: {error}").format(error=exc))
            return
    if model is None:
        return
    data.baseline = model
    temps = _temps(opts, col, opts.start, opts.end)
    complete = {d for d, c in data.coverage.items() if c.complete}
    obs = col.observations(data.days, temps, complete)
    skipped = sorted(d for d in data.days if d in temps and d not in complete
                     and data.days[d].intervals)
    if skipped:
        data.notes.append(_("savings leave out the partial days {days}: a partial day's "
                            "energy is not a day's").format(
                                days=", ".join(d.isoformat() for d in skipped)))
    if not obs:
        data.notes.append(_("savings not computed: no outdoor temperatures for the complete "
                            "report days"))
        return
    adjust = NonRoutine(floor_area_m2=info.floor_area_m2, occupants=info.occupants)
    data.savings = savings(model, [(o, data.days[o.day].cost) for o in obs], adjust)
    data.trustee = trusteeship(data.savings, opts.fee_coefficient,
                               data.demand_charge or Decimal(0), opts.om_cost)
    data.settlement = settle(model, data.savings.days, col.workday, opts.fee_coefficient,
                             data.month_demand_charges)


def write_report(opts: ReportOptions) -> ReportResult:
    data = collect(opts)
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    files = write_csvs(data, out)
    if data.baseline is not None:
        path = out / "baseline.json"
        path.write_text(json.dumps(data.baseline.to_json(), indent=2), encoding="utf-8")
        files.append(path)
    html = out / "report.html"
    html.write_text(render_html(data, opts), encoding="utf-8")
    return ReportResult(html, files, summary(data, opts), data)

