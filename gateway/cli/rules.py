"""``escogw rules check | explain | plan``: the rule set, offline, for the people who edit it.

Exit codes as the rest of the CLI: 0 ok, 2 bad input (an invalid rule file: every
problem printed as ``file:line: field: message``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from gateway.core.sourcefile import ConfigError, Problem
from gateway.i18n import _, ngettext


def add_rules_commands(parser: argparse.ArgumentParser) -> None:
    from gateway.cli.parser_text import add_json, command

    sub = parser.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND",
                                title=_("subcommands"))

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", "-c", required=True, help=_("site file (YAML)"))
        p.add_argument("--rules", "-r", help=_("rule file (default: the site's gateway.rules, "
                                               "else rules/<site id>.yaml)"))
        add_json(p)

    p = command(sub, "check", _("validate a rule file against the site"))
    common(p)
    p.set_defaults(handler=rules_check)

    p = command(sub, "explain", _("which rule decides a unit's state, and why"))
    common(p)
    p.add_argument("device", help=_("AC unit id, as in the site file"))
    p.add_argument("--at", help=_("site-local time: 2026-07-15T16:30, or 16:30 today "
                                  "(default: now)"))
    p.add_argument("--outdoor", type=float, help=_("assume this outdoor temperature, °C"))
    p.set_defaults(handler=rules_explain)

    p = command(sub, "plan", _("every unit's command timeline for a day"))
    common(p)
    p.add_argument("--date", required=True, help=_("site-local date, e.g. 2026-07-15"))
    p.add_argument("--device", action="append",
                   help=_("only this unit (repeat the flag for more)"))
    p.add_argument("--outdoor", type=float, help=_("assume this outdoor temperature, °C"))
    p.add_argument("--room", type=float, metavar="C",
                   help=_("assume every room at this temperature when the day begins, °C: "
                          "optimal starts plan from it (without: for their whole span)"))
    p.set_defaults(handler=rules_plan)


def rules_path(args: argparse.Namespace, site: Any) -> Path:
    if args.rules:
        return Path(args.rules)
    from gateway.core.site import rules_path_for  # the daemon's rule: one place decides

    configured = rules_path_for(site, site.spec.gateway)
    if configured is not None:
        return configured
    for folder in (Path(site.path).resolve().parent.parent / "rules", Path("rules")):
        candidate = folder / f"{site.id}.yaml"
        if candidate.is_file():
            return candidate
    raise ConfigError([Problem(site.path, None, "gateway.rules", _(
        "no rule file given and no rules/{site}.yaml: use --rules").format(site=site.id))])


def _load(args: argparse.Namespace) -> Any:
    from gateway.control.rules import load_rules
    from gateway.core.site import load_site

    site = load_site(args.config)
    return load_rules(rules_path(args, site), site)


def rules_check(args: argparse.Namespace) -> int:
    rules = _load(args)
    today = datetime.now(rules.tz).date()
    alarm = rules.calendar.coverage_alarm(today)
    summary = {
        "ok": True, "rules": rules.path, "digest": rules.digest, "units": len(rules.units),
        "groups": {g: len(m) for g, m in rules.groups.items()},
        "schedules": [r.name for r in rules.slot_rules if r.kind == "schedule"],
        "sweeps": [r.name for r in rules.slot_rules if r.kind == "sweep"],
        "precool": [r.name for r in rules.precool],
        "optimal_start": [r.name for r in rules.optimal_start],
        "comfort_guard": [r.name for r in rules.comfort_guard],
        "demand_limit_kw": rules.demand.limit_kw if rules.demand else None,
        "exemptions": dict(rules.policy.exemptions),
        "holiday_data": rules.calendar.coverage_text(),
        "calendar_alarm": alarm,
        "tariff": rules.tariff.describe() if rules.tariff is not None else None}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    n = {key: len(summary[key]) for key in ("schedules", "sweeps", "precool",
                                             "optimal_start", "comfort_guard")}
    counts = [ngettext("{n} schedule", "{n} schedules", n["schedules"]),
              ngettext("{n} sweep", "{n} sweeps", n["sweeps"]),
              ngettext("{n} pre-cooling rule", "{n} pre-cooling rules", n["precool"]),
              ngettext("{n} optimal-start rule", "{n} optimal-start rules", n["optimal_start"]),
              ngettext("{n} comfort-guard rule", "{n} comfort-guard rules",
                       n["comfort_guard"])]
    counts = [c.format(n=n[key]) for c, key in zip(counts, n, strict=True)]
    print(_("{path}: ok — {units}, {rules}; {demand}").format(
        path=rules.path, rules=_(", ").join(counts), demand=_demand(summary["demand_limit_kw"]),
        units=ngettext("{n} AC unit", "{n} AC units", len(rules.units)).format(
            n=len(rules.units))))
    print(_("  groups: {groups}").format(groups=", ".join(
        f"{g} ({n})" for g, n in summary["groups"].items())))
    for zone, reason in rules.policy.exemptions.items():
        print(_("  exempt zone {zone}: {reason}").format(zone=zone, reason=reason))
    print(_("  holiday data: {years}").format(years=summary["holiday_data"]))
    if summary["tariff"]:
        print(_("  tariff: {tariff}").format(tariff=summary["tariff"]))
    if alarm:
        print(_("warning: {message}").format(
            message=rules.calendar.coverage_alarm(today, for_people=True)), file=sys.stderr)
    return 0


def parse_at(text: str | None, tz: Any) -> datetime:
    if text is None:
        return datetime.now(tz).replace(second=0, microsecond=0)
    text = text.strip()
    try:
        if len(text) <= 5 and ":" in text:
            t = time.fromisoformat(text)
            return datetime.combine(datetime.now(tz).date(), t, tz)
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(_("--at {text!r}: use 2026-07-15T16:30 or 16:30").format(
            text=text)) from None
    return dt.replace(tzinfo=tz) if dt.tzinfo is None else dt


def rules_explain(args: argparse.Namespace) -> int:
    from gateway.control.explain import explain_text
    from gateway.control.plan import explain_at

    rules = _load(args)
    try:
        at = parse_at(args.at, rules.tz)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.device not in rules.units:
        print(_("no AC unit '{device}' (have: {units})").format(
            device=args.device, units=", ".join(rules.units)), file=sys.stderr)
        return 2
    info = explain_at(rules, args.device, at, args.outdoor)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, default=str))
    else:
        from gateway.core.calendar import day_label

        groups = rules.units[args.device].cal_groups
        label = day_label(rules.calendar.day(at.date(), groups), rules.calendar.country)
        print(explain_text(info, label))
    return 0


def rules_plan(args: argparse.Namespace) -> int:
    from gateway.control.explain import plan_text
    from gateway.control.plan import plan_day

    rules = _load(args)
    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        print(_("--date {text!r}: use 2026-07-15").format(text=args.date), file=sys.stderr)
        return 2
    unknown = [d for d in args.device or [] if d not in rules.units]
    if unknown:
        print(_("no AC unit {units} (have: {known})").format(
            units=", ".join(unknown), known=", ".join(rules.units)), file=sys.stderr)
        return 2
    if args.room is not None and not -30 <= args.room <= 60:  # also refuses nan and inf
        print(_("--room {value}: a room temperature in °C, -30 to 60").format(
            value=args.room), file=sys.stderr)
        return 2
    rooms = None if args.room is None else dict.fromkeys(rules.units, args.room)
    plan = plan_day(rules, day, devices=args.device, outdoor_c=args.outdoor, room_c=rooms)
    rows = plan.rows
    info = rules.calendar.day(day)
    if args.json:
        print(json.dumps({"date": day.isoformat(), "day_type": info.type.value,
                          "reason": info.reason, "commands": [
                              {"at": r.at.astimezone(rules.tz).isoformat(timespec="minutes"),
                               "device": r.device, "point": r.point, "before": r.before,
                               "after": r.after, "layer": r.layer, "rule": r.rule,
                               "reason": r.reason} for r in rows],
                          "start": plan.start}, ensure_ascii=False))
        return 0
    from gateway.core.calendar import date_label, day_label

    print(_("{date}: {day}").format(date=date_label(day),
                                    day=day_label(info, rules.calendar.country)))
    if not info.covered:
        print(_("  ! outside the holiday data: day type is a fallback"), file=sys.stderr)
    print(plan_text(rows, str(rules.tz), plan.start))
    return 0


def _demand(value: object) -> str:
    if isinstance(value, float | int):
        return _("demand limit {kw:.1f} kW").format(kw=value)
    return _("no demand limit")
