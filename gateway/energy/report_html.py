"""The report as one self-contained HTML page (inline SVG, no script), in the current
language (gateway.i18n). What the data do not hold is said, never drawn or printed as 0:
partial days carry their coverage, lines stop where the data stop, an unknown demand price
or water price is named as unknown."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING

from gateway.energy import svg
from gateway.energy.comfort import OFFICE_HOURS, band_text
from gateway.energy.coverage import period_fraction
from gateway.energy.report_charging import ChargingMonth
from gateway.energy.report_csv import periods
from gateway.energy.report_text import (
    PERIOD_ORDER,
    cny,
    days_text,
    long_date,
    pct,
    period_name,
    short_date,
)
from gateway.energy.settlement import CONFIDENCE_PCT
from gateway.energy.stats import KGCE_PER_KWH, InstitutionStats
from gateway.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from gateway.energy.report_data import ReportData, ReportOptions

OVER = "#D55E00"
UNKNOWN = "—"


def _h1(text: str) -> str:
    return f"<h1>{escape(text)}</h1>"


def _h2(text: str) -> str:
    return f"<h2>{escape(text)}</h2>"


def _h3(text: str) -> str:
    return f"<h3>{escape(text)}</h3>"


#: the site file's meter roles
ROLES = {"main": N_("main meter"), "ac": N_("AC sub-meter"), "revenue": N_("revenue meter"),
         "sub": N_("sub-meter")}


def _role(role: str) -> str:
    name = ROLES.get(role)
    return _(name) if name is not None else role or UNKNOWN


def _note(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{escape(text)}</p>'


def _labels(data: ReportData, days: list[date]) -> list[str]:
    """Chart labels: the day, and its coverage when it is partial."""
    out = []
    for d in days:
        c = data.coverage[d]
        out.append(short_date(d) if c.complete else f"{short_date(d)} ({pct(c.fraction)})")
    return out


def _date_fmt(days: list[date]) -> svg.Formatter:
    def fmt(v: float) -> str:
        i = round(v)
        return short_date(days[i]) if 0 <= i < len(days) else ""
    return fmt


def _kw(v: float) -> str:
    return f"{v:.1f} kW"


def render_html(data: ReportData, opts: ReportOptions) -> str:
    site = data.site
    info = site.spec.site
    parts = [_h1(_("Energy report — {name}").format(name=info.name or site.id)),
             _note(_("Site {site}, {start} to {end} ({days}, site-local days, {tz}); floor "
                     "area {area} m², {people} occupants. Source: InfluxDB {url}, database "
                     "{db}.").format(site=site.id, start=long_date(opts.start),
                                     end=long_date(opts.end), days=days_text(len(data.days)),
                                     tz=info.timezone, area=f"{info.floor_area_m2:g}",
                                     people=info.occupants, url=opts.influx_url,
                                     db=opts.database))]
    if data.tariff is not None:
        spec = data.tariff.spec
        parts.append(_note(_("Tariff: {name}, version {version}; source: {document}; status: "
                             "{status} (checked {checked})").format(
                                 name=spec.name or data.tariff.id, version=spec.version,
                                 document=spec.source.document, status=spec.source.status or
                                 UNKNOWN, checked=spec.checked)))
    parts += _headline(data)
    parts += _coverage(data)
    parts += _energy(data)
    parts += _demand(data)
    parts += _ac(data)
    parts += _charging(data)
    parts += _savings(data)
    parts += _water(data)
    parts += _comfort(data)
    parts += _registers(data)
    parts += _audit(data)
    parts += _statistics(data)
    flagged = sum(d.flagged for d in data.days.values())
    n = sum(d.intervals for d in data.days.values())
    parts.append(_h2(_("Data quality")))
    parts.append(_note(_("{n} main-meter intervals, {flagged} not \"good\" (interpolated over "
                         "a gap, partial after a cold start, or a meter reset).").format(
                             n=n, flagged=flagged)))
    for note in data.notes:
        parts.append(_note(note, "bad"))
    parts.append(_note(_("Generated {when} UTC by escogw report.").format(
        when=f"{datetime.now(UTC):%Y-%m-%d %H:%M}")))
    title = _("Energy report {site} {start} to {end}").format(
        site=site.id, start=opts.start, end=opts.end)
    return svg.page(title, "\n".join(parts))


def _headline(data: ReportData) -> list[str]:
    days = data.days.values()
    total_kwh = sum(d.kwh for d in days)
    total_cost = sum((d.cost for d in days), Decimal(0))
    peak = max((d.peak_kw for d in days), default=0.0)
    limit = data.demand_limit_kw
    peak_text = _kw(peak)
    if limit:
        peak_text += " " + (_("(over the limit of {limit} kW)") if peak > limit
                            else _("(limit {limit} kW)")).format(limit=f"{limit:g}")
    ac_kwh = sum(a.kwh for a in data.ac_days.values())
    rows = [
        [_("coverage of the period"), pct(data.coverage_fraction) + (
            "" if not data.partial_days else " " + ngettext(
                "({n} partial day)", "({n} partial days)",
                len(data.partial_days)).format(n=len(data.partial_days)))],
        [_("energy (main meters)"), f"{total_kwh:,.1f} kWh"],
        [_("energy cost"), cny(total_cost)],
        [_("peak 15-minute demand"), peak_text],
        [_("demand charge"), _("unknown: the tariff has no price per kW")
         if data.demand_charge is None else cny(data.demand_charge)],
        [_("air conditioning (AC sub-meter)"),
         f"{ac_kwh:,.1f} kWh" if data.ac else _("no AC sub-meter (role: ac) on this site")],
        [_("water"), f"{sum(d.water_m3 for d in days):,.2f} m³"],
        [_("comfort"), _("{kh} K·h per zone outside the band in occupied hours").format(
            kh=f"{data.comfort.kh_per_zone:.2f}")],
    ]
    return [svg.table(["", _("value")], rows)]


def _coverage(data: ReportData) -> list[str]:
    out = [_h2(_("Data coverage"))]
    partial = data.partial_days
    complete = len(data.coverage) - len(partial)
    out.append(_note(_("A quarter-hour is covered when every main meter ({meters}) has an "
                       "interval for it. {complete} of {days} complete; figures of partial "
                       "days cover only their data and are marked with their coverage.").format(
                           meters=", ".join(data.main), complete=complete,
                           days=days_text(len(data.coverage)))))
    if partial:
        out.append(svg.table(
            [_("day"), _("coverage"), _("quarter-hours"), _("missing intervals")],
            [[long_date(c.day), pct(c.fraction), f"{c.covered} / {c.expected}",
              "; ".join(g.text() for g in c.gaps)] for c in partial], left=1))
    return out


def _energy(data: ReportData) -> list[str]:
    days = sorted(data.days)
    cats = _labels(data, days)
    ps = periods(data)
    return [
        _h2(_("Daily energy and cost by tariff period")),
        svg.BarChart(_("Energy by tariff period"), cats, [
            svg.Stack(period_name(p), [data.days[d].kwh_by_period.get(p, 0.0) for d in days],
                      svg.PERIOD_BAR_COLOURS.get(p)) for p in ps], y_label="kWh").render(),
        svg.BarChart(_("Cost by tariff period"), cats, [
            svg.Stack(period_name(p), [float(data.days[d].cost_by_period.get(p, Decimal(0)))
                                       for d in days], svg.PERIOD_BAR_COLOURS.get(p))
            for p in ps], y_label=_("CNY")).render()]


def _demand(data: ReportData) -> list[str]:
    site = data.site
    days = sorted(data.days)
    cats = _labels(data, days)
    limit = data.demand_limit_kw
    out = [_h2(_("Demand"))]
    hl = [svg.HLine(limit, _("limit {limit} kW").format(limit=f"{limit:g}"))] if limit else []
    peaks = [data.days[d].peak_kw for d in days]
    stacks = [svg.Stack(_("peak 15-minute demand"),
                        [p if not limit or p <= limit else 0.0 for p in peaks], "#0072B2")]
    if limit and any(p > limit for p in peaks):
        stacks.append(svg.Stack(_("peak over the limit"),
                                [p if p > limit else 0.0 for p in peaks], OVER))
    out.append(svg.BarChart(_("Daily peak 15-minute demand"), cats, stacks, y_label="kW",
                            hlines=list(hl)).render())
    if data.demand and len(days) <= 14:
        t0 = datetime.combine(days[0], time(0), site.tz)
        pts: list[tuple[float, float | None]] = [
            ((t - t0).total_seconds() / 86400, kw) for t, kw in data.demand]
        quarter = 1 / 96
        series = [svg.Series(_("15-minute demand"), pts, "#0072B2", step=True, hold=quarter)]
        if limit:
            over = [(x, kw if kw is not None and kw > limit else None) for x, kw in pts]
            if any(v is not None for _x, v in over):
                series.append(svg.Series(_("over the limit"), over, OVER, 2.6, step=True,
                                         hold=quarter))
        chart = svg.LineChart(_("15-minute demand"), y_label="kW", x_label=_("day"),
                              series=series, hlines=list(hl),
                              x_range=(0.0, float(len(days))),
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
            for b in chart.bands:
                if b.label:
                    b.label = period_name(b.label)
        out.append(chart.render())
        last = max((t for t, kw in data.demand if kw is not None), default=None)
        period_end = datetime.combine(days[-1] + timedelta(days=1), time(0), site.tz)
        if last is not None and last + timedelta(minutes=15) < period_end:
            out.append(_note(_("The data end at {when}: the line stops there.").format(
                when=f"{last + timedelta(minutes=15):%Y-%m-%d %H:%M}")))
    if data.month_peaks:
        out.append(svg.table([_("month"), _("peak 15-minute demand (kW)"),
                              _("demand charge")],
                             [[m, f"{kw:.2f}", UNKNOWN if data.month_demand_charges.get(m) is None
                               else cny(data.month_demand_charges[m] or Decimal(0))]
                              for m, kw in sorted(data.month_peaks.items())]))
    return out


def _ac(data: ReportData) -> list[str]:
    out = [_h2(_("Air conditioning: the trusteed system (AC sub-meter)"))]
    if not data.ac:
        out.append(_note(_("This site has no AC sub-meter (a meter tagged role: ac): the "
                           "air conditioning's own energy is not measured."), "bad"))
        return out
    days = sorted(data.ac_days)
    kwh = sum(a.kwh for a in data.ac_days.values())
    site_kwh = sum(d.kwh for d in data.days.values())
    cost = sum((a.cost for a in data.ac_days.values()), Decimal(0))
    peak = max((a.peak_kw for a in data.ac_days.values()), default=0.0)
    out.append(_note(_("Meter(s): {meters}. The AC sub-meter measures part of what the main "
                       "meter does; it is not added to the site's energy.").format(
                           meters=", ".join(data.ac))))
    out.append(svg.table(["", _("value")], [
        [_("AC energy"), f"{kwh:,.1f} kWh"],
        [_("share of the site's energy"), f"{100 * kwh / site_kwh:.1f} %" if site_kwh
         else UNKNOWN],
        [_("AC energy cost"), cny(cost)],
        [_("AC peak 15-minute demand"), _kw(peak)]]))
    out.append(svg.BarChart(_("AC energy per day"), _labels(data, days), [
        svg.Stack(_("AC energy"), [data.ac_days[d].kwh for d in days], "#56B4E9")],
        y_label="kWh").render())
    return out


def _charging(data: ReportData) -> list[str]:
    """The car park: its part in each month's peak window, its energy and cost by period."""
    report = data.charging
    if report is None:
        return []
    out = [_h2(_("EV charging: the car park"))]
    out.append(_note(_(
        "Charging in the peak window: the mean power of each connector's states stored in "
        "the site's highest 15-minute window of the month, summed over the connectors. "
        "Energy and cost: the sessions that ended in the period, priced by the gateway "
        "with the site's tariff per time-of-use period. The chargers are behind the main "
        "meter: their energy is part of the site's, not added to it.")))

    def at(m: ChargingMonth) -> str:
        return f"{m.peak_at:%Y-%m-%d %H:%M}" if m.peak_at is not None else UNKNOWN

    def kw(v: float | None) -> str:
        return UNKNOWN if v is None else f"{v:.2f}"

    def share(m: ChargingMonth) -> str:
        v = m.share_pct
        return UNKNOWN if v is None else f"{v:.1f} %"

    rows = [[m.month, at(m), f"{m.peak_kw:.2f}", kw(m.charging_kw), share(m),
             str(m.sessions), f"{m.kwh:,.1f}", cny(m.cost)] for m in report.months]
    p = report.period
    rows.append([_("the period"), at(p), f"{p.peak_kw:.2f}", kw(p.charging_kw), share(p),
                 str(p.sessions), f"{p.kwh:,.1f}", cny(p.cost)])
    out.append(svg.table([_("month"), _("peak window"), _("site peak (kW)"),
                          _("charging in it (kW)"), _("charging's share"), _("sessions"),
                          _("charging energy (kWh)"), _("charging cost")], rows))
    seen = set(p.kwh_by_period)
    order = [q for q in PERIOD_ORDER if q in seen] + sorted(seen - set(PERIOD_ORDER))
    if order:
        out.append(svg.table([_("tariff period"), _("charging energy (kWh)"),
                              _("charging cost")],
                             [[period_name(q), f"{p.kwh_by_period.get(q, 0.0):,.1f}",
                               cny(p.cost_by_period.get(q, Decimal(0)))] for q in order]))
    if p.unpriced:
        out.append(_note(ngettext(
            "{n} session was stored without a cost (no tariff when it ended): its energy "
            "counts, its cost is unknown.",
            "{n} sessions were stored without a cost (no tariff when they ended): their "
            "energy counts, their cost is unknown.", p.unpriced).format(n=p.unpriced), "bad"))
    if not p.sessions:
        out.append(_note(_("No charging session is stored for this period."), "bad"))
    return out


def _savings(data: ReportData) -> list[str]:
    out = [_h2(_("Savings against the baseline"))]
    if data.baseline is not None:
        verdict = "good" if data.baseline.accepted else "bad"
        out.append(_note(data.baseline.summary(), verdict))
    s = data.savings
    if s is None:
        out.append(_note(_("No savings: give a baseline (--baseline FILE, or --baseline-from/"
                           "--baseline-to) and outdoor temperatures (--weather or "
                           "--outdoor).")))
        return out
    sdays = [x.day for x in s.days]
    out.append(svg.BarChart(_("Actual energy against the adjusted baseline"),
                            [short_date(d) for d in sdays],
                            [svg.Stack(_("actual"), [x.actual_kwh for x in s.days], "#0072B2")],
                            y_label="kWh", markers=[svg.Series(
                                _("adjusted baseline"),
                                [(float(i), x.adjusted_kwh) for i, x in enumerate(s.days)],
                                "#D55E00")]).render())
    run = Decimal(0)
    cum: list[tuple[float, float | None]] = []
    for i, x in enumerate(s.days):
        run += x.avoided_cost
        cum.append((float(i), float(run)))
    if len(cum) > 1:  # one day is no line: the table below has its figure
        out.append(svg.LineChart(_("Cumulative avoided cost"), y_label=_("CNY"), series=[
            svg.Series(_("avoided cost"), cum, "#009E73")],
            x_ticks=[float(i) for i in range(len(sdays))], x_format=_date_fmt(sdays)).render())
    out.append(svg.table(["", _("energy"), _("cost")], [
        [_("adjusted baseline"), f"{s.adjusted_kwh:,.1f} kWh", cny(s.adjusted_cost)],
        [_("actual"), f"{s.actual_kwh:,.1f} kWh", cny(s.actual_cost)],
        [_("avoided"), f"{s.avoided_kwh:,.1f} kWh ({s.avoided_pct:.1f} %)",
         cny(s.avoided_cost)]]))
    out += _settlement(data)
    t = data.trustee
    if t is not None:
        out.append(_h2(_("Trusteeship view")))
        bill = _("actual bill (energy + demand charge)") if data.demand_charge is not None \
            else _("actual bill (energy only: the tariff has no demand price, the demand "
                   "charge is unknown and not included)")
        out.append(svg.table(["", _("amount")], [
            [_("contract fee (adjusted baseline cost × {k})").format(k=t.fee_coefficient),
             cny(t.contract_fee)],
            [bill, cny(t.actual_bill)],
            [_("operation and maintenance"), cny(t.om_cost)],
            [_("ESCO margin"), cny(t.margin)],
            [_("client's saving against the baseline bill"), cny(t.client_saving)]]))
    return out


def _settlement(data: ReportData) -> list[str]:
    if not data.settlement:
        return []
    out = [_h2(_("Monthly settlement")),
           _note(_("Baseline: the model under the baseline period's mean weather and the "
                   "month's calendar; routine adjustment: the month's weather; non-routine "
                   "adjustment: floor area, occupants, equipment. Uncertainty: ASHRAE "
                   "Guideline 14 fractional savings uncertainty at {conf} % confidence from "
                   "the model's CV(RMSE), without autocorrelation correction. Only complete "
                   "days are settled.").format(conf=CONFIDENCE_PCT))]

    def kwh(v: float | None) -> str:
        return UNKNOWN if v is None else f"{v:,.1f}"

    rows = []
    for m in data.settlement:
        fsu = m.fsu_pct
        rows.append([m.month, m.days, kwh(m.baseline_kwh), kwh(m.routine_kwh),
                     kwh(m.non_routine_kwh), kwh(m.adjusted_kwh), kwh(m.actual_kwh),
                     f"{m.avoided_kwh:,.1f} ± {m.uncertainty_kwh:,.1f}"
                     + ("" if fsu is None else f" ({fsu:.0f} %)"),
                     cny(m.avoided_cost), cny(m.fee),
                     UNKNOWN if m.demand_charge is None else cny(m.demand_charge),
                     cny(m.client_saving)])
    out.append(svg.table(
        [_("month"), _("days"), _("baseline (kWh)"), _("weather adjustment (kWh)"),
         _("non-routine adjustment (kWh)"), _("adjusted baseline (kWh)"), _("actual (kWh)"),
         _("avoided (kWh, ± uncertainty)"), _("avoided cost"), _("fee"), _("demand charge"),
         _("client's saving")], rows))
    if any(m.demand_charge is None for m in data.settlement):
        out.append(_note(_("Demand charge {unknown}: the tariff has no price per kW; the "
                           "settlement does not include it.").format(unknown=UNKNOWN)))
    return out


def _water(data: ReportData) -> list[str]:
    out = [_h2(_("Water"))]
    days = sorted(data.days)
    m3 = sum(data.days[d].water_m3 for d in days)
    out.append(svg.BarChart(_("Water per day"), _labels(data, days), [
        svg.Stack(_("water"), [data.days[d].water_m3 for d in days], "#56B4E9")],
        y_label="m³").render())
    rows = [[_("water used"), f"{m3:,.2f} m³"]]
    if data.water_price is None:
        rows.append([_("water cost"), _("unknown: no water price given (--water-price)")])
    else:
        rows.append([_("water cost"), cny(Decimal(f"{m3:.6f}") * data.water_price)])
    wb = data.water_baseline
    if wb is None and data.water_baseline_read:
        rows.append([_("water baseline"), _("none: no water readings in the baseline "
                                            "period")])
    elif wb is None:
        rows.append([_("water baseline"), _("none: fit a baseline period "
                                            "(--baseline-from/--baseline-to)")])
    else:
        expected = [wb.expected(data.workdays.get(d, True)) for d in days
                    if data.coverage[d].complete]
        if any(e is None for e in expected) or not expected:
            rows.append([_("water baseline"), UNKNOWN])
        else:
            base = sum(e or 0.0 for e in expected)
            actual = sum(data.days[d].water_m3 for d in days if data.coverage[d].complete)
            rows.append([_("water baseline ({start} to {end}, complete days)").format(
                start=wb.start, end=wb.end), f"{base:,.2f} m³"])
            rows.append([_("water saved against the baseline"),
                         f"{base - actual:,.2f} m³" + (
                             "" if data.water_price is None else
                             " = " + cny(Decimal(f"{base - actual:.6f}") * data.water_price))])
    out.append(svg.table(["", _("value")], rows))
    return out


def _comfort(data: ReportData) -> list[str]:
    schedule = _("the scheduled occupancy of each zone's use (site-file tag use: office, "
                 "meeting; a zone without one: {start}–{end} on working days)").format(
                     start=f"{OFFICE_HOURS[0]:%H:%M}", end=f"{OFFICE_HOURS[1]:%H:%M}")
    occupancy = {"sensor": _("the units' occupancy sensors"), "schedule": schedule,
                 "both": _("the occupancy sensors where units have them, else {schedule}"
                           ).format(schedule=schedule)}
    out = [_h2(_("Comfort")),
           _note(_("K·h outside the band per zone ({band}), counted only while the zone is "
                   "occupied: {occupancy}. The what-if uses the same definition.").format(
                       band=band_text(), occupancy=occupancy[data.occupancy_source]))]
    if data.comfort.kh:
        zones = sorted(data.comfort.kh)
        out.append(svg.BarChart(_("Discomfort per zone over the period"), zones, [
            svg.Stack("K·h", [data.comfort.kh[z] for z in zones], "#CC79A7")],
            y_label="K·h").render())
    else:
        out.append(_note(_("No room temperatures stored for the period."), "bad"))
    return out


def _registers(data: ReportData) -> list[str]:
    out = [_h2(_("Meter register readings")),
           _note(_("The first and last counter reading stored in the period, for reconciling "
                   "with the utility's bill (compare with the revenue meter)."))]

    def at(t: datetime | None) -> str:
        return UNKNOWN if t is None else f"{t:%Y-%m-%d %H:%M}"

    def v(x: float | None) -> str:
        return UNKNOWN if x is None else f"{x:,.2f}"

    out.append(svg.table(
        [_("meter"), _("address"), _("role"), _("unit"), _("opening reading"), _("at"),
         _("closing reading"), _("at"), _("difference")],
        [[r.device, r.address or UNKNOWN, _role(r.role), r.unit, v(r.first),
          at(r.first_at), v(r.last), at(r.last_at), v(r.delta)] for r in data.registers],
        left=4))
    if any(r.first is None for r in data.registers):
        out.append(_note(_("{unknown}: no reading of that meter stored in the period.").format(
            unknown=UNKNOWN)))
    return out


def _audit(data: ReportData) -> list[str]:
    a = data.audit
    out = [_h2(_("What the control did"))]
    rows: list[list[str]] = []
    if a.events_stored:
        rows += [[_("operator overrides"), str(len(a.overrides))],
                 [_("regulatory clamp hits"), str(a.clamp_hits)],
                 [_("demand actions (shed or setpoint relief)"), str(a.demand_actions)],
                 [_("alarms raised"), str(a.alarm_count) + (
                     " (" + ", ".join(f"{k} × {n}" for k, n in sorted(a.alarms.items())) + ")"
                     if a.alarms else "")]]
    else:
        na = _("not available: the database holds no control events of this site")
        rows += [[_("operator overrides"), na], [_("regulatory clamp hits"), na],
                 [_("demand actions (shed or setpoint relief)"), na], [_("alarms raised"), na]]
    if a.limit_kw is None:
        rows.append([_("demand exceedances"), _("no demand limit given (--rules or "
                                                "--demand-limit-kw)")])
    else:
        minutes = int(a.exceed_duration.total_seconds() // 60)
        rows.append([_("demand exceedances over {limit} kW").format(limit=f"{a.limit_kw:g}"),
                     _("{windows}, {episodes}, {minutes} min in all").format(
                         windows=ngettext("{n} window of 15 minutes",
                                          "{n} windows of 15 minutes",
                                          a.exceed_windows).format(n=a.exceed_windows),
                         episodes=ngettext("{n} episode", "{n} episodes",
                                           a.exceed_episodes).format(n=a.exceed_episodes),
                         minutes=minutes)])
    out.append(svg.table(["", _("count")], rows))
    if not a.events_stored:
        out.append(_note(_("Control events reach InfluxDB through the historian from the "
                           "gateway's control/event topic; none is stored for this site.")))
    return out


def _stat_label(data: ReportData, item: InstitutionStats) -> str:
    """A statistics period, with its coverage when its data are not whole."""
    days = [c for d, c in data.coverage.items() if item.start <= d < item.end]
    covered = period_fraction(days)
    return item.label if covered >= 1.0 else f"{item.label} ({pct(covered)})"


def _statistics(data: ReportData) -> list[str]:
    info = data.site.spec.site
    out = [_h2(_("Public-institution statistics")),
           _note(_("Electricity at {factor} kgce/kWh (equivalent value, GB/T 2589); floor "
                   "area {area} m², {people} occupants (site file).").format(
                       factor=KGCE_PER_KWH, area=f"{info.floor_area_m2:g}",
                       people=info.occupants))]
    names = {"year": _("by year"), "month": _("by month"), "day": _("by day")}
    for g in ("year", "month", "day"):
        items = data.stats.get(g, [])
        if not items:
            continue
        out.append(_h3(names[g]))
        out.append(svg.table(
            [_("period"), "kWh", "kgce", "kWh/m²", "kgce/m²", _("kWh/person"),
             _("kgce/person"), _("water m³"), _("m³/person"), _("cost")],
            [[_stat_label(data, i), f"{i.kwh:,.1f}", f"{i.kgce:,.2f}", f"{i.kwh_per_m2:.3f}",
              f"{i.kgce_per_m2:.4f}", f"{i.kwh_per_person:.2f}", f"{i.kgce_per_person:.3f}",
              f"{i.water_m3:.2f}", f"{i.water_m3_per_person:.4f}", cny(i.cost)]
             for i in items]))
    return out
