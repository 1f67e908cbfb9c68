"""``escogw stats``: institution statistics over one or many sites for the national
public-institution platform — per month, quarter or year, against a base year; a table,
a CSV and a spreadsheet laid out like the platform's form (docs/fleet.md)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

from gateway.cli.table import print_table
from gateway.energy.influx import InfluxError
from gateway.energy.institution_sheets import write_csv, write_xlsx
from gateway.energy.institution_sources import load_sources
from gateway.energy.institutions import institution_periods
from gateway.i18n import _


def add_stats_command(sub: Any) -> None:
    from gateway.cli.parser_text import command

    p = command(sub, "stats", _("institution statistics for the public-institution platform: "
                                "kgce/m², kgce/person, water/person"))
    p.add_argument("--institutions", "-i", required=True, type=Path,
                   help=_("the institutions file (YAML): sites, meter readings, database"))
    p.add_argument("--from", dest="start", required=True, help=_("first month, YYYY-MM"))
    p.add_argument("--to", dest="end", required=True, help=_("last month, YYYY-MM"))
    p.add_argument("--by", choices=("month", "quarter", "year"), default="year",
                   help=_("one row per month, quarter or year (default: year)"))
    p.add_argument("--csv", type=Path, help=_("write the statistics as CSV"))
    p.add_argument("--xlsx", type=Path, help=_("write the platform-style spreadsheet"))
    p.set_defaults(handler=cmd_stats)


def _month(text: str, flag: str) -> date:
    m = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(_("{flag} {text!r}: expected YYYY-MM").format(flag=flag, text=text))
    return date(int(m.group(1)), int(m.group(2)), 1)


def cmd_stats(args: argparse.Namespace) -> int:
    try:
        start, end = _month(args.start, "--from"), _month(args.end, "--to")
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if end < start:
        print(_("--to is before --from"), file=sys.stderr)
        return 2
    sources = load_sources(args.institutions)
    try:
        collected = sources.collect(start, end)
    except InfluxError as exc:
        print(_("database: {error}").format(error=exc), file=sys.stderr)
        return 1
    stats = [s for inst, months in collected
             for s in institution_periods(inst, months, args.by, start, end,
                                          sources.spec.base_year, sources.factors)]
    base = sources.spec.base_year

    def pct(v: float | None) -> str:
        return "" if v is None else f"{v:+.2f} %"

    print_table([_("institution"), _("period"), "kWh", _("water m³"), "kgce", "kgce/m²",
                 _("kgce/person"), _("m³/person"), _("Δ kgce/m² vs {year}").format(year=base),
                 _("Δ kgce/person vs {year}").format(year=base),
                 _("Δ m³/person vs {year}").format(year=base)],
                [[s.institution.id, s.label, f"{s.quantity.get('electricity_kwh', 0):.1f}",
                  f"{s.quantity.get('water_m3', 0):.1f}", f"{s.kgce:.1f}",
                  f"{s.kgce_per_m2:.3f}", f"{s.kgce_per_person:.2f}",
                  f"{s.water_m3_per_person:.3f}", pct(s.change_pct.get("kgce_per_m2")),
                  pct(s.change_pct.get("kgce_per_person")),
                  pct(s.change_pct.get("water_m3_per_person"))] for s in stats])
    if args.csv is not None:
        write_csv(stats, args.csv)
        print(_("csv: {path}").format(path=args.csv))
    if args.xlsx is not None:
        write_xlsx(stats, args.xlsx, base, sources.factors)
        print(_("xlsx: {path}").format(path=args.xlsx))
    return 0
