"""What the days off would cost if the gateway knew who comes in: a study, not a feature.

The per-day targets of issue 15 are missed on cold days off (docs/energy.md "Issue 15's
targets: where they stand"). The office profile sends one occupant in ten in on a day
off, drawn afresh each day; the gateway cannot know which rooms. Warming every office
for them spends more than the naive set, which warms only the rooms whose occupants
take the remote; not warming leaves the comers for hours in rooms at 5-10 °C.

This writes a variant of a rule file that *does* know: every room whose occupants the
simulation will bring in on a day off is "booked" (as if they had said so the day
before), and only booked rooms get the day-off plan. It uses the rule file's own
mechanisms: one group per booking and a closure for it (day type ``closure``, which the
demo rules do not otherwise use in winter), the named optimal-start rules restricted to
that day type, and the named schedules given a ``closure`` day that repeats their day-off
steps and switches the unit on when the comers arrive. Compare it with the naive set as
usual (``escogw whatif --rules VARIANT --vs ...``).

    python -m devkit.days_off_bound --site config/demo-site.yaml \\
        --rules rules/demo-office.yaml --from 2026-12-08 --to 2027-02-23 \\
        --set-back offices-weekend-set-back --schedule offices-heating --on-at 09:00 \\
        --out /tmp/booked.yaml
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from gateway.control.rules import load_rules
from gateway.core.calendar import WORKING, SiteCalendar
from gateway.core.site import load_site
from simulators.physics.occupancy import DayKind, RoomOccupancy
from simulators.sim_config import load_simulation
from simulators.site_physics import build_building


def bookings(calendar: SiteCalendar, comes_in: Mapping[str, RoomOccupancy],
             unit_of_room: Mapping[str, str],
             first: date, last: date) -> dict[date, list[str]]:
    """Day off → the units of the rooms someone will come into (``comes_in``: room id →
    ``RoomOccupancy``)."""
    out: dict[date, list[str]] = {}
    day = first
    while day <= last:
        if calendar.day(day).type not in WORKING:
            units = sorted(unit_of_room[room] for room, occ in comes_in.items()
                           if room in unit_of_room
                           and occ.comes_in(day.toordinal(), DayKind.OFF_DAY))
            if units:
                out[day] = units
        day += timedelta(days=1)
    return out


def booked_variant(doc: dict[str, Any], booked: Mapping[date, Sequence[str]],
                   set_backs: Sequence[str], schedules: Sequence[str], on_at: str
                   ) -> dict[str, Any]:
    """``doc`` (a rule file's mapping, changed in place and returned) with the bookings as
    closures of one-unit groups, ``set_backs`` only for them, and ``schedules`` switching
    a booked unit on at ``on_at``."""
    groups = doc.setdefault("groups", {})
    closures = doc.setdefault("calendar", {}).setdefault("closures", [])
    for day, units in sorted(booked.items()):
        for unit in units:
            name = f"booked-{unit}-{day.isoformat()}"
            groups[name] = {"devices": [unit]}
            closures.append({"from": day, "reason": "booked (days_off_bound study)",
                             "group": name})
    for name in set_backs:
        doc["optimal_start"][name]["day_types"] = ["closure"]
    for name in schedules:
        rule = doc["schedules"][name]
        rule["closure"] = [*rule.get("off_day", []), {"at": on_at, "power": "on"}]
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devkit.days_off_bound",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--from", dest="first", required=True, type=date.fromisoformat)
    ap.add_argument("--to", dest="last", required=True, type=date.fromisoformat)
    ap.add_argument("--set-back", action="append", default=[],
                    help="an optimal_start rule to run for booked rooms only")
    ap.add_argument("--schedule", action="append", default=[],
                    help="a schedule that switches a booked room's unit on at --on-at")
    ap.add_argument("--on-at", default="09:00")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    site = load_site(args.site)
    rules = load_rules(args.rules, site)
    own = [c for c in rules.calendar.closures if c.start <= args.last and c.end >= args.first]
    if own:
        sys.exit(f"{args.rules}: its closure {own[0].start}..{own[0].end} falls in "
                 f"{args.first}..{args.last}, and the study books with closures: pick "
                 "days outside it")
    doc = yaml.safe_load(Path(args.rules).read_text(encoding="utf-8"))
    for name in args.set_back:
        if name not in doc.get("optimal_start", {}):
            sys.exit(f"{args.rules}: no optimal_start rule '{name}'")
    for name in args.schedule:
        if name not in doc.get("schedules", {}):
            sys.exit(f"{args.rules}: no schedule '{name}'")
    unit_of_room = {u.zone: uid for uid, u in rules.units.items() if u.zone is not None}
    rooms = build_building(load_simulation(site)).rooms
    booked = bookings(rules.calendar, {rid: r.occupancy for rid, r in rooms.items()},
                      unit_of_room, args.first, args.last)
    variant = booked_variant(doc, booked, args.set_back, args.schedule, args.on_at)
    Path(args.out).write_text(yaml.safe_dump(variant, allow_unicode=True, sort_keys=False),
                              encoding="utf-8")
    n = sum(len(u) for u in booked.values())
    print(f"{args.out}: {n} bookings on {len(booked)} days off")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
