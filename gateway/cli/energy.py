"""``escogw report`` and ``escogw whatif`` (docs/energy.md)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from gateway.core.sourcefile import ConfigError, Problem
from gateway.i18n import _, ngettext

if TYPE_CHECKING:
    from gateway.energy.kpis import Kpis
    from simulators.physics.weather_series import DailyWeather


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("{text} is not a date like 2026-07-15").format(
            text=repr(text))) from None


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(_("{text} is not a number").format(
            text=repr(text))) from None


def add_report_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help=_("settlement-grade energy, cost, demand, savings, "
                                        "comfort and coverage report (HTML with plots, plus "
                                        "CSV) from InfluxDB"))
    p.add_argument("--config", "-c", required=True, help=_("site file (YAML)"))
    p.add_argument("--from", dest="start", type=_date, required=True, metavar="DATE",
                   help=_("first day (site-local), e.g. 2026-07-01"))
    p.add_argument("--to", dest="end", type=_date, required=True, metavar="DATE",
                   help=_("last day, inclusive"))
    p.add_argument("--influx", default="http://127.0.0.1:8086",
                   help=_("InfluxDB URL (v1 /query), default %(default)s"))
    p.add_argument("--database", "--db", default="escogw",
                   help=_("database (default %(default)s)"))
    p.add_argument("--username", help=_("InfluxDB user name"))
    p.add_argument("--password", help=_("InfluxDB password; better: the "
                                        "ESCOGW_INFLUX_PASSWORD environment variable"))
    p.add_argument("--out", "-o", default="report", help=_("output folder (default "
                                                           "%(default)s)"))
    p.add_argument("--rules", help=_("rule file: the demand limit, the exempt zones and the "
                                     "cooling months are read from it"))
    p.add_argument("--demand-limit-kw", type=float, metavar="KW",
                   help=_("demand limit, kW (beats --rules)"))
    p.add_argument("--baseline", metavar="FILE",
                   help=_("baseline model (baseline.json written by an earlier report)"))
    p.add_argument("--baseline-from", type=_date, metavar="DATE",
                   help=_("fit the baseline on this period (with --baseline-to)"))
    p.add_argument("--baseline-to", type=_date, metavar="DATE",
                   help=_("last day of the baseline period, inclusive"))
    p.add_argument("--weather", metavar="CSV",
                   help=_("daily outdoor temperatures, CSV: date,mean_temp_c (for the "
                          "degree days of the baseline)"))
    p.add_argument("--outdoor", metavar="DEVICE.POINT",
                   help=_("or: an outdoor temperature point stored in InfluxDB"))
    p.add_argument("--baseline-area-m2", type=float, metavar="M2",
                   help=_("floor area in the baseline period, m² (non-routine adjustment)"))
    p.add_argument("--baseline-occupants", type=int, metavar="N",
                   help=_("occupants in the baseline period (non-routine adjustment)"))
    p.add_argument("--fee-coefficient", type=_decimal, default=Decimal(1), metavar="K",
                   help=_("trusteeship fee = adjusted baseline cost × this (default 1)"))
    p.add_argument("--om-cost", type=_decimal, default=Decimal(0), metavar="CNY",
                   help=_("the ESCO's operation and maintenance cost over the period, CNY"))
    p.add_argument("--site-id", help=_("site tag in InfluxDB (default: the site file's id)"))
    p.add_argument("--water-price", type=_decimal, metavar="CNY_PER_M3",
                   help=_("water price, CNY/m³ (without it the water cost is reported "
                          "unknown)"))
    p.set_defaults(handler=cmd_report)


def add_whatif_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("whatif", help=_("simulate a day or a season under rule sets (physics "
                                        "and the real control engine) and compare their KPIs"))
    p.add_argument("--rules", required=True, metavar="FILE", help=_("rule file A"))
    p.add_argument("--vs", metavar="FILE", help=_(
        "rule file B to compare against (both runs see the people and cars of A's calendar)"))
    p.add_argument("--site", "--config", "-c", dest="site", required=True, metavar="FILE",
                   help=_("site file with a simulation section"))
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--day", type=_date, metavar="DATE",
                      help=_("one site-local date, e.g. 2026-07-15"))
    when.add_argument("--from", dest="start", type=_date, metavar="DATE",
                      help=_("a season: first day (with --to), one continuous simulation"))
    p.add_argument("--to", dest="end", type=_date, metavar="DATE",
                   help=_("a season: last day, inclusive"))
    p.add_argument("--weather", metavar="NAME_OR_CSV",
                   help=_("one day's weather, repeated: a CSV file or a bundled name such as "
                          "wuhan-summer-hot (default: the site's simulation.weather)"))
    p.add_argument("--weather-series", metavar="SERIES",
                   help=_("weather day by day: generated:wuhan:SEED (Wuhan-like days drawn "
                          "from the CMA normals) or a daily CSV date,min_temp_c,max_temp_c[,"
                          "sunshine_pct]; default for a season: generated:wuhan:1"))
    p.add_argument("--jobs", type=int, choices=(1, 2), default=2,
                   help=_("a season: processes, the comparison set beside (default 2)"))
    p.add_argument("--step", type=float, default=60.0, metavar="S",
                   help=_("simulation step, s (default 60)"))
    p.add_argument("--warmup-days", type=int, default=1, metavar="N",
                   help=_("days simulated before DAY with the same rules and weather "
                          "(default 1)"))
    p.add_argument("--limits", choices=("national", "rules"), default="national",
                   help=_("national (default): the 26/20 °C limits hold for every rule set, "
                          "commands beyond them are clamped and counted; rules: each file's "
                          "own"))
    p.add_argument("--seed", type=int, default=None,
                   help=_("simulation seed: who comes in when, sensor noise (default: the "
                          "site's simulation.seed); try several before trusting a "
                          "difference"))
    p.add_argument("--write-failure", type=float, default=0.0, metavar="FRACTION",
                   help=_("share of writes that fail (seeded), to exercise retries"))
    p.add_argument("--cars", action=argparse.BooleanOptionalAction, default=True,
                   help=_("simulate the site file's car park (charging:), its cars steered "
                          "by the gateway's allocator on the same budget as the AC "
                          "(default: yes)"))
    p.add_argument("--out", "-o", metavar="FILE",
                   help=_("HTML page (default whatif-DAY.html or whatif-FROM-TO.html)"))
    p.add_argument("--json", action="store_true", help=_("KPIs as JSON on stdout"))
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help=_("progress bar on stderr (default: when stderr is a terminal)"))
    p.set_defaults(handler=cmd_whatif)


class ProgressBar:
    def __init__(self, label: str, stream: TextIO, width: int = 30):
        self.label = label
        self.stream = stream
        self.width = width
        self.last = -1

    def __call__(self, fraction: float) -> None:
        pct = int(fraction * 100)
        if pct == self.last:
            return
        self.last = pct
        full = int(fraction * self.width)
        bar = "█" * full + "░" * (self.width - full)
        self.stream.write(f"\r{bar} {pct:3d}% {self.label}")
        if fraction >= 1.0:
            self.stream.write("\n")
        self.stream.flush()


def _weather_problem(name: str) -> None:
    """A bad ``--weather`` is the flag's fault, said as such (not the rule file's)."""
    from simulators.physics.building import resolve_weather
    from simulators.physics.weather import WeatherFileError

    try:
        resolve_weather(name)
    except WeatherFileError as exc:
        raise ConfigError([Problem(exc.file, exc.line, exc.field, exc.message)]) from None
    except OSError as exc:
        raise ConfigError([Problem("command line", None, "--weather", _(
            "cannot read {file}: {error}").format(file=name, error=exc.strerror))]) from None
    except ValueError as exc:
        raise ConfigError([Problem("command line", None, "--weather", _(
            "{value}: not a bundled weather name nor a weather CSV file ({error})").format(
                value=name, error=exc))]) from None


def seed_text(seed: int | None) -> str:
    return "" if seed is None else _(", seed {seed}").format(seed=seed)


def limits_text(limits: str) -> str:
    return _("national limits") if limits == "national" else _("each rule file's own limits")


def cmd_whatif(args: argparse.Namespace) -> int:
    from gateway.core.site import load_site
    from gateway.energy.comfort import band_text
    from gateway.energy.whatif import Comparison, RunResult, comparison_html, run_day
    from gateway.energy.whatif_ev import ev_totals
    from simulators.physics.weather_series import weather_day

    if not 0.0 <= args.write_failure < 1.0:
        raise ConfigError([Problem("command line", None, "--write-failure",
                                   _("a fraction in [0, 1)"))])
    if not 1.0 <= args.step <= 900.0 or 900.0 % args.step:
        raise ConfigError([Problem("command line", None, "--step", _(
            "seconds that divide 15 minutes (1..900), e.g. 60, 100, 150"))])
    if args.weather and args.weather_series:
        raise ConfigError([Problem("command line", None, "--weather-series", _(
            "give --weather (one day) or --weather-series, not both"))])
    if args.start is not None or args.end is not None:
        return cmd_season(args)
    if args.weather:
        _weather_problem(args.weather)
    site = load_site(args.site)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    weather_for = None
    if args.weather_series:
        days = _series(args.weather_series, args.day - timedelta(days=args.warmup_days),
                       args.day)
        shapes = {d.day: weather_day(days, i) for i, d in enumerate(days)}
        weather_for = shapes.__getitem__
    results: list[RunResult] = []
    for path in [args.rules] + ([args.vs] if args.vs else []):
        bar = ProgressBar(Path(path).stem, sys.stderr) if show else None
        try:
            results.append(run_day(site, path, args.day, weather=args.weather, step_s=args.step,
                                   warmup_days=args.warmup_days, limits=args.limits,
                                   write_failure=args.write_failure, progress=bar,
                                   sim_seed=args.seed, weather_for=weather_for,
                                   cars=args.cars,
                                   # both buildings see the first rule file's occupants
                                   occupancy=results[0].rules.calendar if results else None))
        except ValueError as exc:  # the rule file and the site's simulation settings
            raise ConfigError([Problem(str(path), None, "", str(exc))]) from None
        except OSError as exc:
            raise ConfigError([Problem(str(exc.filename or path), None, "", _(
                "cannot read: {error}").format(error=exc.strerror))]) from None
    cmp = Comparison(results[0], results[1] if len(results) > 1 else None)
    weather = args.weather or args.weather_series or _("the site's simulation.weather")
    lo, hi = results[0].trace.band
    notes = [_("Site {site} ({file}), {day}, weather {weather}, step {step} s, {warmup}, "
               "{limits}{seed}.").format(site=site.id, file=args.site, day=args.day,
                                         weather=weather, step=f"{args.step:g}",
                                         warmup=ngettext("{n} warm-up day", "{n} warm-up days",
                                                         args.warmup_days).format(
                                             n=args.warmup_days),
                                         limits=limits_text(args.limits),
                                         seed=seed_text(args.seed)),
             _("Discomfort: as in the report (BOPTEST tdis), over each zone's occupied time "
               "(people present), band {lo}–{hi} °C ({band}). Short cycles: a unit on or off "
               "for less than 300 s. Clamp hits and regulatory violations: requests beyond "
               "the national 26 °C / 20 °C limits (docs/energy.md).").format(
                   lo=f"{lo:g}", hi=f"{hi:g}", band=band_text())]
    out = Path(args.out or f"whatif-{args.day}.html")
    out.write_text(comparison_html(cmp, _("What if — {day}").format(day=args.day), notes),
                   encoding="utf-8")
    if args.json:
        print(json.dumps({"day": str(args.day), "limits": args.limits,
                          "runs": [kpis_json(r.kpis) for r in results],
                          "ev": [ev_totals([r.kpis]) or None for r in results],
                          "figures": cmp.figures() if cmp.b else None, "plot": str(out)},
                         indent=2))
    else:
        print(cmp.text())
        print("\n" + _("plot: {file}").format(file=out))
    return 0


#: a season longer than this is refused (bounded time)
MAX_SEASON_DAYS = 400


def _series(spec: str, start: date, end: date) -> list[DailyWeather]:
    """The days of a weather series, its errors as ``ConfigError``."""
    from simulators.physics.weather import WeatherFileError
    from simulators.physics.weather_series import series_days

    try:
        return series_days(spec, start, end)
    except WeatherFileError as exc:
        raise ConfigError([Problem(exc.file, exc.line, exc.field, exc.message)]) from None
    except ValueError as exc:
        raise ConfigError([Problem("command line", None, "--weather-series", str(exc))]
                          ) from None
    except OSError as exc:
        raise ConfigError([Problem(str(exc.filename or spec), None, "--weather-series", _(
            "cannot read: {error}").format(error=exc.strerror))]) from None


def cmd_season(args: argparse.Namespace) -> int:
    """``whatif --from --to``: a season over a weather series (docs/energy.md)."""
    from gateway.core.site import load_site
    from gateway.energy.season import TOTALS, season_html, season_json, target_name
    from gateway.energy.season_run import run_season
    from gateway.energy.whatif import change_pct
    from gateway.energy.whatif_ev import ev_rows

    if args.start is None or args.end is None:
        raise ConfigError([Problem("command line", None, "--to" if args.end is None
                                   else "--from", _("a season needs both --from and --to"))])
    if args.end < args.start:
        raise ConfigError([Problem("command line", None, "--to", _("is before --from"))])
    if (args.end - args.start).days + 1 > MAX_SEASON_DAYS:
        raise ConfigError([Problem("command line", None, "--to", _(
            "a season is at most {n} days").format(n=MAX_SEASON_DAYS))])
    if args.weather:
        raise ConfigError([Problem("command line", None, "--weather",
                                   _("a season takes --weather-series (day by day)"))])
    spec = args.weather_series or "generated:wuhan:1"
    days = _series(spec, args.start, args.end)
    site = load_site(args.site)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    label = f"{args.start}..{args.end}"
    bar = ProgressBar(label, sys.stderr) if show else None
    try:
        cmp = run_season(site, args.rules, args.vs, days, step_s=args.step,
                         warmup_days=args.warmup_days, limits=args.limits,
                         sim_seed=args.seed, write_failure=args.write_failure,
                         jobs=args.jobs, progress=bar, cars=args.cars)
    except ValueError as exc:
        raise ConfigError([Problem(str(args.rules), None, "", str(exc))]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(exc.filename or args.rules), None, "", _(
            "cannot read: {error}").format(error=exc.strerror))]) from None
    from gateway.energy.comfort import band_text

    notes = [_("Site {site} ({file}), {label} ({days}), weather {weather}, one continuous "
               "simulation per rule set after {warmup}, step {step} s, {limits}{seed}.").format(
                   site=site.id, file=args.site, label=label,
                   days=ngettext("{n} day", "{n} days", len(days)).format(n=len(days)),
                   weather=spec, warmup=ngettext("{n} warm-up day", "{n} warm-up days",
                                                 args.warmup_days).format(n=args.warmup_days),
                   step=f"{args.step:g}", limits=limits_text(args.limits),
                   seed=seed_text(args.seed)),
             _("AC cost: the AC sub-meter under the site's tariff. Discomfort: as in the "
               "report, BOPTEST tdis over each zone's occupied time, band {band}. Demand "
               "windows over the limit: 15-minute windows above {rules}'s demand limit plus "
               "its deadband, for both sets (docs/energy.md).").format(band=band_text(),
                                                                       rules=args.rules)]
    out = Path(args.out or f"whatif-{args.start}-{args.end}.html")
    replay = " ".join(["escogw whatif --rules", str(args.rules)]
                      + (["--vs", str(args.vs)] if args.vs else [])
                      + ["--site", str(args.site), "--day {day} --weather-series", spec,
                         "--limits", args.limits]
                      + (["--seed", str(args.seed)] if args.seed is not None else []))
    out.write_text(season_html(cmp, _("Season what-if — {label}").format(label=label), notes,
                               replay),
                   encoding="utf-8")
    if args.json:
        doc = season_json(cmp, kpis_json)
        doc["plot"] = str(out)
        print(json.dumps(doc, indent=2))
        return 0
    ta = cmp.totals(cmp.a)
    tb = cmp.totals(cmp.b) if cmp.b else None
    rows = [(_("season"), cmp.a.label, cmp.b.label if cmp.b else "")]
    # season.TOTALS names are translated where the catalogue has them (report.po)
    rows += [(_(name), format(ta[name], fmt), format(tb[name], fmt) if tb else "")
             for name, (_fa, _fb, fmt) in TOTALS.items()]
    rows += [r[:3] for r in ev_rows(cmp.a.days, cmp.b.days if cmp.b else None, change_pct)]
    print(_columns(rows))
    print()
    print(_columns([tuple(cmp.monthly_headers()), *map(tuple, cmp.monthly_rows())]))
    w = cmp.worst_day()
    print("\n" + _("worst day: {day} (discomfort {kh} K·h per zone)").format(
        day=cmp.a.days[w].day, kh=f"{cmp.a.days[w].discomfort_kh_per_zone:.3f}"))
    for target, missed in cmp.misses().items():
        if missed:
            print(ngettext("{n} day with {target}: {days}", "{n} days with {target}: {days}",
                           len(missed)).format(
                n=len(missed), target=target_name(target),
                days=", ".join(str(d) for d in missed[:8]) + (" …" if len(missed) > 8 else "")))
    print(_("figures: {json}").format(json=json.dumps(cmp.figures())))
    print(_("{days} in {seconds} s").format(
        days=ngettext("{n} day", "{n} days", len(days)).format(n=len(days)),
        seconds=f"{cmp.wall_s:.1f}"))
    print(_("plot: {file}").format(file=out))
    return 0


def _columns(rows: Sequence[tuple[str, ...]]) -> str:
    from gateway.i18n import ljust, rjust, width

    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(ljust(c, widths[0]) if i == 0 else rjust(c, widths[i])
                               for i, c in enumerate(r)).rstrip() for r in rows)


def kpis_json(k: Kpis) -> dict[str, object]:
    from dataclasses import asdict

    out: dict[str, object] = asdict(k)
    for key, value in list(out.items()):
        if isinstance(value, Decimal):
            out[key] = float(round(value, 2))
        elif isinstance(value, date):
            out[key] = value.isoformat()
        elif isinstance(value, dict):
            out[key] = {kk: _num(vv) for kk, vv in value.items()}
        elif isinstance(value, float):
            out[key] = round(value, 4)
    out["discomfort_kh_per_zone"] = round(k.discomfort_kh_per_zone, 4)
    out["energy_kwh_per_m2"] = round(k.energy_kwh_per_m2, 4)
    out["starts_per_unit"] = round(k.starts_per_unit, 4)
    if k.ev is not None and isinstance(out["ev"], dict):
        out["ev"]["delivered_pct"] = round(k.ev.delivered_pct, 2)
    return out


def _num(v: object) -> object:
    if isinstance(v, dict):  # the car park's day (whatif_ev.EvKpis) and its periods
        return {kk: _num(vv) for kk, vv in v.items()}
    if isinstance(v, Decimal):
        return float(round(v, 4))
    if isinstance(v, float):
        return round(v, 4)
    return v


def cmd_report(args: argparse.Namespace) -> int:
    from gateway.energy.report import ReportOptions, write_report

    if args.end < args.start:
        raise ConfigError([Problem("command line", None, "--to", _("is before --from"))])
    if (args.baseline_from is None) != (args.baseline_to is None):
        raise ConfigError([Problem("command line", None, "--baseline-from",
                                   _("give both --baseline-from and --baseline-to"))])
    import os

    opts = ReportOptions(
        site_path=Path(args.config), start=args.start, end=args.end, influx_url=args.influx,
        database=args.database, username=args.username,
        password=args.password or os.environ.get("ESCOGW_INFLUX_PASSWORD"),
        out=Path(args.out), rules_path=Path(args.rules) if args.rules else None,
        demand_limit_kw=args.demand_limit_kw,
        baseline_path=Path(args.baseline) if args.baseline else None,
        baseline_from=args.baseline_from, baseline_to=args.baseline_to,
        weather_csv=Path(args.weather) if args.weather else None, outdoor=args.outdoor,
        baseline_area_m2=args.baseline_area_m2, baseline_occupants=args.baseline_occupants,
        fee_coefficient=args.fee_coefficient, om_cost=args.om_cost, site_id=args.site_id,
        water_price=args.water_price)
    from gateway.energy.influx import InfluxError
    from gateway.energy.report import NoReadings

    try:
        result = write_report(opts)
    except (InfluxError, NoReadings) as exc:
        print(_("report: {error}").format(error=exc), file=sys.stderr)
        return 1
    for line in result.summary:
        print(line)
    print(_("report: {file}").format(file=result.html))
    return 0
