"""The report's CSV files. Their headers are English identifiers in every language (scripts
and spreadsheets read them by name; docs/energy.md lists them); the values are numbers,
ISO dates and the site's own names."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.energy.report_text import PERIOD_ORDER
from gateway.energy.tariff import money

if TYPE_CHECKING:
    from gateway.energy.report_data import ReportData


def _csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def periods(data: ReportData) -> list[str]:
    seen = {p for d in data.days.values() for p in d.kwh_by_period}
    return [p for p in PERIOD_ORDER if p in seen] + sorted(seen - set(PERIOD_ORDER))


def _opt(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def write_csvs(data: ReportData, out: Path) -> list[Path]:
    ps = periods(data)
    files = []
    rows = []
    for d in sorted(data.days):
        t = data.days[d]
        c = data.coverage[d]
        rows.append([d.isoformat(), f"{t.kwh:.3f}", f"{money(t.cost)}",
                     *[f"{t.kwh_by_period.get(p, 0.0):.3f}" for p in ps],
                     *[f"{money(t.cost_by_period.get(p, Decimal(0)))}" for p in ps],
                     f"{t.peak_kw:.3f}", f"{t.water_m3:.3f}", t.intervals, t.flagged,
                     f"{100 * c.fraction:.1f}", "complete" if c.complete
                     else "empty" if c.empty else "partial"])
    files.append(_csv(out / "daily.csv", ["date", "kwh", "cost_cny",
                                          *[f"kwh_{p}" for p in ps],
                                          *[f"cost_{p}_cny" for p in ps],
                                          "peak_15min_kw", "water_m3", "intervals",
                                          "intervals_flagged", "coverage_pct", "status"], rows))
    files.append(_csv(out / "coverage.csv",
                      ["date", "quarter_hours", "covered", "coverage_pct", "status",
                       "missing"],
                      [[c.day.isoformat(), c.expected, c.covered, f"{100 * c.fraction:.1f}",
                        "complete" if c.complete else "empty" if c.empty else "partial",
                        "; ".join(g.text() for g in c.gaps)]
                       for _d, c in sorted(data.coverage.items())]))
    ivs = [[r.time.astimezone(data.site.tz).isoformat(), r.tags.get("device", ""),
            r.tags.get("period", ""), r.fields.get("kwh"), r.fields.get("m3"),
            r.fields.get("price"), r.fields.get("cost"), r.fields.get("demand_kw"),
            r.fields.get("quality")] for r in sorted(data.intervals, key=lambda r: r.time)]
    files.append(_csv(out / "intervals.csv", ["start", "device", "period", "kwh", "m3",
                                              "price_cny_kwh", "cost_cny", "demand_kw",
                                              "quality"], ivs))
    if data.ac:
        files.append(_csv(out / "ac_daily.csv", ["date", "kwh", "cost_cny", "peak_15min_kw",
                                                 "intervals", "share_of_site_pct"],
                          [[d.isoformat(), f"{a.kwh:.3f}", f"{money(a.cost)}",
                            f"{a.peak_kw:.3f}", a.intervals,
                            f"{100 * a.kwh / data.days[d].kwh:.1f}" if data.days[d].kwh else ""]
                           for d, a in sorted(data.ac_days.items())]))
    if data.charging is not None:
        files.append(_charging_csv(data, out))
    files.append(_csv(out / "registers.csv", ["device", "address", "role", "unit",
                                              "first_at", "first", "last_at", "last",
                                              "difference"],
                      [[r.device, r.address or "", r.role, r.unit,
                        r.first_at.isoformat() if r.first_at else "", _opt(r.first, ".3f"),
                        r.last_at.isoformat() if r.last_at else "", _opt(r.last, ".3f"),
                        _opt(r.delta, ".3f")] for r in data.registers]))
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
    if data.settlement:
        files.append(_csv(out / "settlement.csv",
                          ["month", "days", "baseline_kwh", "routine_adjustment_kwh",
                           "non_routine_adjustment_kwh", "adjusted_baseline_kwh",
                           "actual_kwh", "avoided_kwh", "uncertainty_kwh_90pct",
                           "adjusted_baseline_cost_cny", "actual_cost_cny",
                           "avoided_cost_cny", "fee_cny", "client_saving_cny",
                           "demand_charge_cny"],
                          [[m.month, m.days, _opt(m.baseline_kwh, ".3f"),
                            _opt(m.routine_kwh, ".3f"), f"{m.non_routine_kwh:.3f}",
                            f"{m.adjusted_kwh:.3f}", f"{m.actual_kwh:.3f}",
                            f"{m.avoided_kwh:.3f}", f"{m.uncertainty_kwh:.3f}",
                            money(m.adjusted_cost), money(m.actual_cost),
                            money(m.avoided_cost), money(m.fee), money(m.client_saving),
                            "" if m.demand_charge is None else money(m.demand_charge)]
                           for m in data.settlement]))
    return files


def _charging_csv(data: ReportData, out: Path) -> Path:
    """``charging.csv``: per month and for the whole period (``all``)."""
    assert data.charging is not None
    report = data.charging
    rows_of = [*report.months, report.period]
    seen = {p for m in rows_of for p in m.kwh_by_period}
    ps = [p for p in PERIOD_ORDER if p in seen] + sorted(seen - set(PERIOD_ORDER))
    return _csv(out / "charging.csv",
                ["month", "peak_window_start", "site_peak_15min_kw", "charging_kw_in_peak",
                 "charging_share_of_peak_pct", "sessions", "sessions_unpriced", "kwh",
                 "cost_cny", *[f"kwh_{p}" for p in ps], *[f"cost_{p}_cny" for p in ps]],
                [[m.month, m.peak_at.isoformat() if m.peak_at else "", f"{m.peak_kw:.3f}",
                  _opt(m.charging_kw, ".3f"), _opt(m.share_pct, ".1f"), m.sessions, m.unpriced,
                  f"{m.kwh:.3f}", f"{money(m.cost)}",
                  *[f"{m.kwh_by_period.get(p, 0.0):.3f}" for p in ps],
                  *[f"{money(m.cost_by_period.get(p, Decimal(0)))}" for p in ps]]
                 for m in rows_of])
