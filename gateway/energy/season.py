"""Season what-if, pure: two rule sets' per-day KPIs over a run of days of a weather series
(run by ``season_run``), their monthly and season totals, the worst day, and the page an
analyst shows a client (``season_html``).

The figures compare A (the rule set evaluated) with B (the comparison set: the naive
baseline of every season, rules/examples/naive-office.yaml). Demand windows over the
limit are counted, for both, against A's limit plus its deadband (B usually has none:
the count shows what A's limit would have met under B).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from gateway.energy.kpis import Kpis
from gateway.energy.whatif import change_pct
from gateway.energy.whatif_ev import ev_rows, ev_totals
from gateway.i18n import N_, _
from simulators.physics.weather_series import DailyWeather


@dataclass
class Season:
    """One rule set over the days: a ``Kpis`` per day."""

    label: str
    days: list[Kpis]
    cpu_s: float = 0.0

    def total(self, kpi: Callable[[Kpis], float]) -> float:
        return sum(kpi(k) for k in self.days)


def ac_cost(k: Kpis) -> float:
    return float(k.ac_cost)


def site_cost(k: Kpis) -> float:
    return float(k.cost)


def discomfort(k: Kpis) -> float:
    return k.discomfort_kh_per_zone


#: season totals: name → (per-day KPI, how days combine: sum or max, format)
TOTALS: dict[str, tuple[Callable[[Kpis], float], Callable[[Sequence[float]], float], str]] = {
    N_("energy, air conditioning (kWh)"): (lambda k: k.ac_energy_kwh, sum, ".0f"),
    N_("cost, air conditioning (CNY)"): (ac_cost, sum, ".2f"),
    N_("cost, site (CNY)"): (site_cost, sum, ".2f"),
    N_("highest 15-min demand, site (kW)"): (lambda k: k.peak_kw, max, ".2f"),
    N_("demand windows over the limit"): (lambda k: k.demand_windows_over_limit, sum, ".0f"),
    N_("… of them with no demand alarm before"): (
        lambda k: k.demand_windows_over_limit_unannounced, sum, ".0f"),
    N_("discomfort (K·h per zone)"): (discomfort, sum, ".2f"),
    N_("worst day's discomfort (K·h per zone)"): (discomfort, max, ".3f"),
    N_("occupants switching a unit on"): (lambda k: k.occupant_switch_ons, sum, ".0f"),
    N_("regulatory violations"): (lambda k: k.violations, sum, ".0f"),
    N_("short cycles"): (lambda k: k.short_cycles, sum, ".0f"),
}


def _saving_short(k: Kpis, vs: Kpis | None) -> bool:
    """A day short of the saving. One on which no compressor ran under either set (a
    school's Sunday: the units' standby is all either pays) has nothing to save."""
    if vs is None or k.compressor_hours == vs.compressor_hours == 0:
        return False
    mine, theirs = ac_cost(k), ac_cost(vs)
    if theirs <= 0:
        return mine > 0
    return change_pct(mine, theirs) > -DAILY_SAVING_PCT


def _more_remote(k: Kpis, vs: Kpis | None) -> bool:
    return vs is not None and k.occupant_switch_ons > vs.occupant_switch_ons


#: issue 15's daily targets for a rule set against the naive baseline of the season
DAILY_SAVING_PCT = 20.0
SEASON_SAVING_PCT = 25.0
MAX_DISCOMFORT_KH_PER_ZONE = 0.5
#: the figures the targets' names are written with
TARGET_FIELDS = {"pct": DAILY_SAVING_PCT, "kh": MAX_DISCOMFORT_KH_PER_ZONE}
#: target (a name template: ``target_name``) → does a day (and B's same day) miss it
DAILY_TARGETS: dict[str, Callable[[Kpis, Kpis | None], bool]] = {
    N_("AC cost less than {pct:g} % below the comparison set"): _saving_short,
    N_("discomfort above {kh:g} K·h per zone"):
        lambda k, _: discomfort(k) > MAX_DISCOMFORT_KH_PER_ZONE,
    N_("a demand window over the limit that no alarm announced"):
        lambda k, _: k.demand_windows_over_limit_unannounced > 0,
    N_("a regulatory violation"): lambda k, _: k.violations > 0,
    N_("a short cycle"): lambda k, _: k.short_cycles > 0,
    N_("occupants took the remote more often than under the comparison set"): _more_remote,
}


def target_name(template: str, translate: bool = True) -> str:
    """A target's name with its figures, in the user's language (``translate``) or in
    English (the JSON's keys)."""
    return (_(template) if translate else template).format(**TARGET_FIELDS)


@dataclass
class SeasonComparison:
    a: Season
    b: Season | None
    weather: list[DailyWeather]
    #: the limit both sets' windows are counted against (A's), kW; None: A has none
    threshold_kw: float | None
    wall_s: float = 0.0

    def totals(self, s: Season) -> dict[str, float]:
        return {name: how([kpi(k) for k in s.days]) for name, (kpi, how, _) in TOTALS.items()}

    def worst_day(self) -> int:
        """Index of A's worst day: the most discomfort, then the least saving against B."""
        b = self.b

        def badness(i: int) -> tuple[float, float]:
            k = self.a.days[i]
            saving = change_pct(ac_cost(k), ac_cost(b.days[i])) if b else 0.0
            return discomfort(k), saving

        return max(range(len(self.a.days)), key=badness)

    def months(self) -> list[tuple[str, list[int]]]:
        """("2026-07", day indexes) in order."""
        out: dict[str, list[int]] = {}
        for i, k in enumerate(self.a.days):
            out.setdefault(k.day.strftime("%Y-%m"), []).append(i)
        return list(out.items())

    def monthly_rows(self) -> list[list[str]]:
        rows = []
        for month, idx in self.months():
            a = [self.a.days[i] for i in idx]
            b = [self.b.days[i] for i in idx] if self.b else []
            cost_a = sum(ac_cost(k) for k in a)
            row = [month, str(len(idx)), f"{cost_a:.2f}"]
            if b:
                cost_b = sum(ac_cost(k) for k in b)
                row += [f"{cost_b:.2f}", f"{cost_b - cost_a:.2f}",
                        f"{-change_pct(cost_a, cost_b):.1f} %"]
            row.append(f"{max(k.peak_kw for k in a):.1f}")
            if b:
                row.append(f"{max(k.peak_kw for k in b):.1f}")
            row.append(str(sum(k.demand_windows_over_limit for k in a)))
            row.append(f"{sum(discomfort(k) for k in a):.2f}")
            if b:
                row.append(f"{sum(discomfort(k) for k in b):.2f}")
            rows.append(row)
        return rows

    def monthly_headers(self) -> list[str]:
        a, b = self.a.label, self.b.label if self.b else None
        h = [_("month"), _("days"), _("AC cost {label} (CNY)").format(label=a)]
        if b:
            h += [_("AC cost {label} (CNY)").format(label=b), _("saving (CNY)"), _("saving")]
        h.append(_("peak {label} (kW)").format(label=a))
        if b:
            h.append(_("peak {label} (kW)").format(label=b))
        h += [_("windows over limit, {label}").format(label=a),
              _("discomfort {label} (K·h/zone)").format(label=a)]
        if b:
            h.append(_("discomfort {label} (K·h/zone)").format(label=b))
        return h

    def misses(self) -> dict[str, list[date]]:
        """The days of A that miss each of issue 15's daily targets (``DAILY_TARGETS``);
        the comparisons against B only where there is a B."""
        out: dict[str, list[date]] = {name: [] for name in DAILY_TARGETS}
        for i, k in enumerate(self.a.days):
            vs = self.b.days[i] if self.b else None
            for name, missed in DAILY_TARGETS.items():
                if missed(k, vs):
                    out[name].append(k.day)
        return out

    def figures(self) -> dict[str, float]:
        """The season's headline figures of A (against B where there is one)."""
        a = self.a
        b = self.b or a
        return {
            "cost_change_pct": round(change_pct(a.total(ac_cost), b.total(ac_cost)), 2),
            "site_cost_change_pct": round(change_pct(a.total(site_cost),
                                                     b.total(site_cost)), 2),
            "worst_day_cost_change_pct": round(max(
                change_pct(ac_cost(ka), ac_cost(kb)) for ka, kb in zip(a.days, b.days,
                                                                       strict=True)), 2),
            "worst_day_discomfort_kh_per_zone": round(max(discomfort(k) for k in a.days), 3),
            "demand_windows_over_limit": float(a.total(lambda k: k.demand_windows_over_limit)),
            "demand_windows_over_limit_unannounced": float(
                a.total(lambda k: k.demand_windows_over_limit_unannounced)),
            "violations": float(a.total(lambda k: k.violations)),
            "short_cycles": float(a.total(lambda k: k.short_cycles)),
            "occupant_switch_ons": float(a.total(lambda k: k.occupant_switch_ons)),
            "occupant_switch_ons_vs": float(b.total(lambda k: k.occupant_switch_ons)),
            "days_missing_a_target": float(len({d for days in self.misses().values()
                                                for d in days})),
        }


# -- the page -------------------------------------------------------------------------------


def season_html(cmp: SeasonComparison, title: str, notes: Sequence[str] = (),
                replay: str | None = None) -> str:
    """A self-contained page: season totals, the month-by-month table and charts (AC cost
    and saving, peak demand against the limit, discomfort), the days, the worst day;
    ``replay``: the command that plots the worst day hour by hour (``{day}`` in it)."""
    from gateway.energy.svg import BarChart, HLine, LineChart, Series, Stack, page, table

    a, b = cmp.a, cmp.b
    blue, orange = "#0072B2", "#D55E00"
    ta, tb = cmp.totals(a), cmp.totals(b) if b else None
    rows = []
    for name, (_kpi, _how, fmt) in TOTALS.items():
        row = [_(name), format(ta[name], fmt)]
        if tb is not None:
            row += [format(tb[name], fmt),
                    f"{change_pct(ta[name], tb[name]):+.1f} %" if "cost" in name and tb[name]
                    else ""]
        rows.append(row)
    headers = [_("season"), a.label] + ([b.label, _("A vs B")] if b else [])
    rows += [list(r[:len(headers)]) for r in ev_rows(a.days, b.days if b else None,
                                                      change_pct)]
    months = cmp.months()
    cats = [m for m, _ in months]

    def monthly(s: Season, kpi: Callable[[Kpis], float], how: Callable[[list[float]], float]
                ) -> list[float]:
        return [how([kpi(s.days[i]) for i in idx]) for _, idx in months]

    def vs_markers(kpi: Callable[[Kpis], float], how: Callable[[list[float]], float]
                   ) -> list[Series]:
        if b is None:
            return []
        return [Series(b.label, [(float(i), v) for i, v in enumerate(monthly(b, kpi, how))],
                       orange)]

    limit = [HLine(cmp.threshold_kw, _("limit + deadband {kw} kW").format(
        kw=f"{cmp.threshold_kw:g}"))] \
        if cmp.threshold_kw is not None else []
    charts = [
        BarChart(_("AC cost per month: {a} (bars), {b} (markers)").format(a=a.label, b=b.label)
                 if b else _("AC cost per month: {a}").format(a=a.label),
                 cats, [Stack(a.label, monthly(a, ac_cost, sum), blue)], y_label=_("CNY"),
                 markers=vs_markers(ac_cost, sum)),
        BarChart(_("Highest 15-minute demand per month: {a}").format(a=a.label), cats,
                 [Stack(a.label, monthly(a, lambda k: k.peak_kw, max), blue)], y_label="kW",
                 hlines=limit, markers=vs_markers(lambda k: k.peak_kw, max)),
        BarChart(_("Discomfort per month, K·h per zone: {a}").format(a=a.label), cats,
                 [Stack(a.label, monthly(a, discomfort, sum), blue)], y_label="K·h",
                 markers=vs_markers(discomfort, sum)),
    ]
    if b is not None:
        charts.insert(1, BarChart(_("Saving per month against {b}").format(b=b.label), cats, [Stack(
            _("saving"), [vb - va for va, vb in zip(monthly(a, ac_cost, sum),
                                                  monthly(b, ac_cost, sum), strict=True)],
            "#009E73")], y_label=_("CNY")))
    daily = LineChart(_("AC cost per day, and the day's outdoor temperatures"),
                      y_label=_("CNY / °C"), x_label=_("day of the run"))
    daily.series.append(Series(_("AC cost {label}").format(label=a.label), [(float(i), ac_cost(k))
                                                       for i, k in enumerate(a.days)], blue, 1.8))
    if b is not None:
        daily.series.append(Series(_("AC cost {label}").format(label=b.label),
                                   [(float(i), ac_cost(k)) for i, k in enumerate(b.days)],
                                   orange, 1.8))
    daily.series += [
        Series(_("outdoor max °C"), [(float(i), d.max_c) for i, d in enumerate(cmp.weather)],
               "#999999", 1.0, dashed=True),
        Series(_("outdoor min °C"), [(float(i), d.min_c) for i, d in enumerate(cmp.weather)],
               "#56B4E9", 1.0, dashed=True)]
    w = cmp.worst_day()
    wk, wd = a.days[w], cmp.weather[w]
    worst = ["<h2>" + escape(_("The worst day: {day} (outdoor {low}–{high} °C)").format(
                 day=wk.day, low=f"{wd.min_c:.1f}", high=f"{wd.max_c:.1f}")) + "</h2>",
             table([_("KPI"), a.label] + ([b.label] if b else []), [
                 [_(name), format(kpi(wk), fmt)] + ([format(kpi(b.days[w]), fmt)] if b else [])
                 for name, (kpi, how, fmt) in TOTALS.items() if how is sum])]
    if replay is not None:
        worst.append('<p class="note">' + escape(_(
            "Its power, demand and room temperatures hour by hour:")) +
            f" <code>{escape(replay.format(day=wk.day))}</code></p>")
    day_rows = [[str(k.day), f"{cmp.weather[i].min_c:.1f}", f"{cmp.weather[i].max_c:.1f}",
                 f"{ac_cost(k):.2f}"] + ([f"{ac_cost(b.days[i]):.2f}"] if b else []) +
                [f"{k.peak_kw:.1f}", str(k.demand_windows_over_limit), f"{discomfort(k):.3f}",
                 str(k.occupant_switch_ons), str(k.violations)]
                for i, k in enumerate(a.days)]
    day_headers = [_("day"), _("min °C"), _("max °C"),
                   _("AC cost {label}").format(label=a.label)] + \
        ([_("AC cost {label}").format(label=b.label)] if b else []) + \
        [_("peak kW"), _("windows over limit"), _("discomfort K·h/zone"), _("remote"),
         _("violations")]
    season_miss = b is not None and \
        change_pct(a.total(ac_cost), b.total(ac_cost)) > -SEASON_SAVING_PCT
    targets = [[_("AC cost over the season less than {pct} % below the comparison set").format(
                    pct=f"{SEASON_SAVING_PCT:g}"),
                 _("missed") if season_miss else _("met") if b else "", ""]]
    targets += [[target_name(name), str(len(days)),
                 ", ".join(d.strftime("%m-%d") for d in days[:12])
                 + (" …" if len(days) > 12 else "")] for name, days in cmp.misses().items()]
    body = [f"<h1>{escape(title)}</h1>",
            "".join(f'<p class="note">{escape(n)}</p>' for n in notes),
            table(headers, rows),
            "<h2>" + escape(_("The targets: days that miss them")) + "</h2>",
            table([_("target"), _("days"), _("which")], targets),
            "<h2>" + escape(_("Month by month")) + "</h2>",
            table(cmp.monthly_headers(), cmp.monthly_rows()),
            *(c.render() for c in charts), daily.render(), *worst,
            "<h2>" + escape(_("Day by day")) + "</h2>", table(day_headers, day_rows)]
    return page(title, "\n".join(body))


def season_json(cmp: SeasonComparison, kpis_json: Callable[[Kpis], dict[str, object]]
                ) -> dict[str, object]:
    """Per-day KPIs (``kpis_json`` of each), season totals, the worst day, the figures."""
    def one(s: Season) -> dict[str, object]:
        return {"label": s.label, "totals": {k: round(v, 4) for k, v in cmp.totals(s).items()},
                "days": [kpis_json(k) for k in s.days], "cpu_s": round(s.cpu_s, 2),
                "ev": ev_totals(s.days) or None}

    return {"from": str(cmp.a.days[0].day), "to": str(cmp.a.days[-1].day),
            "weather": [{"day": str(d.day), "min_c": d.min_c, "max_c": d.max_c,
                         "sunshine": d.sunshine} for d in cmp.weather],
            "demand_threshold_kw": cmp.threshold_kw,
            "worst_day": str(cmp.a.days[cmp.worst_day()].day),
            "misses": {target_name(name, translate=False): [str(d) for d in days]
                       for name, days in cmp.misses().items()},
            "runs": [one(s) for s in (cmp.a, cmp.b) if s is not None],
            "figures": cmp.figures(), "wall_s": round(cmp.wall_s, 2)}

