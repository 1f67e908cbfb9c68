"""``escogw fleet push|status|diff``: the platform operator's view of many sites
(docs/fleet.md). Reads the fleet file (broker, sites, groups); talks to the central broker."""

from __future__ import annotations

import argparse
import difflib
import getpass
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.fleet.bundle import BundleError, BundleFile, make_bundle
from gateway.fleet.inventory import Fleet, load_fleet
from gateway.fleet.operator import BrokerUnreachable, FleetClient
from gateway.fleet.rollout import outcome, stages, status_rows
from gateway.i18n import N_, _, ngettext
from gateway.uplink.messages import iso, parse_iso

#: a push's outcome per site, as the table says it (the audit file keeps the key)
OUTCOMES = {"applied": N_("applied"), "refused": N_("refused"), "rolled-back": N_("rolled-back"),
            "no answer": N_("no answer")}


def add_fleet_commands(sub: Any) -> None:
    from gateway.cli.parser_text import add_json, command

    p = command(sub, "fleet", _("many sites: push rules, see health, diff (docs/fleet.md)"))
    verbs = p.add_subparsers(dest="fleet_command", required=True, metavar="VERB",
                             title=_("subcommands"))

    push = command(verbs, "push", _("push a versioned bundle to a site or a group (one site "
                                    "first, then the rest)"))
    _common(push)
    where = push.add_mutually_exclusive_group(required=True)
    where.add_argument("--site", help=_("one site, by its id in the fleet file"))
    where.add_argument("--group", help=_("a group of sites, by its name in the fleet file"))
    push.add_argument("--rules", type=Path, help=_("the rule file to run"))
    push.add_argument("--tariff", type=Path,
                      help=_("the tariff to price with, named <the site's tariff id>.yaml "
                             "(with --rules: both applied together or neither)"))
    push.add_argument("--site-file", type=Path,
                      help=_("the site file (same site id and rule file place); the gateway "
                             "restarts to apply it and rolls back if its health fails"))
    push.add_argument("--version", required=True,
                      help=_("the bundle's version, e.g. 2026-12-06.1"))
    push.add_argument("--by", help=_("who pushes (default: the fleet file's operator, or "
                                     "$USER)"))
    push.add_argument("--wait", type=float, default=900.0,
                      help=_("seconds to wait for each stage's reports (default 900)"))
    push.set_defaults(handler=fleet_main, fleet_handler=_push)

    status = command(verbs, "status", _("every site's health and rules version"))
    _common(status)
    add_json(status)
    status.set_defaults(handler=fleet_main, fleet_handler=_status)

    diff = command(verbs, "diff", _("a site's running rule file against a local one, or "
                                    "every site whose report differs from its push"))
    _common(diff)
    diff.add_argument("--site", help=_("the site to compare (default: every site)"))
    diff.add_argument("--rules", type=Path, help=_("the rule file you mean to push"))
    diff.set_defaults(handler=fleet_main, fleet_handler=_diff)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fleet", "-f", required=True, type=Path, help=_("the fleet file (YAML)"))
    p.add_argument("--timeout", type=float, default=5.0,
                   help=_("seconds to collect the sites' retained states (default 5)"))


def fleet_main(args: argparse.Namespace) -> int:
    fleet = load_fleet(args.fleet)
    try:
        client = FleetClient(fleet.spec.broker)
    except BrokerUnreachable as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        code: int = args.fleet_handler(args, fleet, client)
        return code
    finally:
        client.close()


def _audit(fleet: Fleet, record: dict[str, Any]) -> None:
    with fleet.audit_path.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"ts": iso(datetime.now(UTC)), **record}, ensure_ascii=False) + "\n")


def _push(args: argparse.Namespace, fleet: Fleet, client: FleetClient) -> int:
    try:
        sites = fleet.targets(args.site, args.group)
        chosen = {kind: path for kind, path in (("rules", args.rules), ("tariff", args.tariff),
                                                ("site", args.site_file)) if path is not None}
        if not chosen:
            print(_("fleet push: nothing to push: give --rules, --tariff, --site-file or "
                    "several"), file=sys.stderr)
            return 2
        files = {kind: BundleFile(path.name, path.read_text(encoding="utf-8"))
                 for kind, path in chosen.items()}
        by = args.by or fleet.spec.operator or getpass.getuser()
        bundle = make_bundle(args.version, by, datetime.now(UTC), files)
    except (ValueError, OSError) as exc:  # BundleError is a ValueError
        where = "bundle" if isinstance(exc, BundleError) else getattr(exc, "filename", "")
        print(f"{where}: {exc}", file=sys.stderr)
        return 2
    payload = bundle.payload()
    failed = False
    for n, stage in enumerate(stages(sites), 1):
        if not stage:
            continue
        started = time.monotonic()
        for site in stage:
            client.push(site, payload)
        _audit(fleet, {"event": "pushed", "by": by, "version": bundle.version,
                       "digest": bundle.digest, "sites": stage, "stage": n,
                       **{kind: f.name for kind, f in bundle.files.items()}})
        client.wait(_answered(client, stage, bundle.digest), args.wait)
        results = {s: outcome(client.reported.get(s), bundle.digest) or "no answer"
                   for s in stage}
        for site, result in results.items():
            reasons = (client.reported.get(site) or {}).get("reasons") or []
            print(_("{site}: {result} ({version}, {seconds:.1f} s)").format(
                site=site, result=_(OUTCOMES.get(result, result)), version=bundle.version,
                seconds=time.monotonic() - started))
            for reason in reasons:
                print(f"  {reason}")
        _audit(fleet, {"event": "outcome", "by": by, "version": bundle.version,
                       "stage": n, "results": results})
        if any(r != "applied" for r in results.values()):
            failed = True
            rest = [s for later in stages(sites)[n:] for s in later]
            if rest:
                print(_("rollout stopped: {sites} not pushed").format(sites=", ".join(rest)),
                      file=sys.stderr)
            break
    return 1 if failed else 0


def _answered(client: FleetClient, sites: list[str], digest: str) -> Callable[[], bool]:
    return lambda: all(outcome(client.reported.get(s), digest) for s in sites)


def _status(args: argparse.Namespace, fleet: Fleet, client: FleetClient) -> int:
    sites = list(fleet.spec.sites)
    client.settle(sites, args.timeout)
    rows = status_rows(sites, client.health, client.reported, client.online)
    now = datetime.now(UTC)
    for row in rows:
        ts = row.pop("health_ts")
        row["health_age_s"] = round((now - parse_iso(ts)).total_seconds(), 1) if ts else None
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    from gateway.cli.table import print_table

    headers = [_("site"), _("gateway"), _("rules"), _("state"), _("links"), _("failing"),
               _("outbox"), _("outbox age s"), _("ticks"), _("alarms"), _("clock"),
               _("software"), _("health age s")]
    print_table(headers, [[r["site"], r["gateway"], r["rules_version"] or _("(installed)"),
                           r["state"], r["links"],
                           None if r["devices"] is None else
                           f"{r['devices_failing']}/{r['devices']}",
                           r["outbox_depth"], r["outbox_age_s"], r["control_ticks"],
                           r["alarms"], _clock(r), r["software"], r["health_age_s"]]
                          for r in rows])
    return 0


def _clock(row: dict[str, Any]) -> str:
    """The site clock as the kernel sees it: synchronised (with its error bound) or not."""
    if row.get("clock_synced") is None:
        return ""
    if not row["clock_synced"]:
        return _("NOT synced")
    err = row.get("clock_max_error_s")
    return _("synced") if err is None else _("synced ±{s} s").format(s=f"{err:.3g}")


def _diff(args: argparse.Namespace, fleet: Fleet, client: FleetClient) -> int:
    sites = [args.site] if args.site else list(fleet.spec.sites)
    client.settle(sites, args.timeout)
    if args.rules is not None:
        if args.site is None:
            print(_("--rules needs --site"), file=sys.stderr)
            return 2
        report = client.reported.get(args.site)
        if report is None or report.get("rules_text") is None:
            print(_("{site}: no report with its rule file yet").format(site=args.site),
                  file=sys.stderr)
            return 1
        running = str(report["rules_text"]).splitlines(keepends=True)
        new = args.rules.read_text(encoding="utf-8").splitlines(keepends=True)
        sys.stdout.writelines(difflib.unified_diff(
            running, new, f"{args.site}: {report.get('rules_name')} "
            f"({report.get('version') or 'installed'})", str(args.rules)))
        return 0
    drift = 0
    for site in sites:
        r = client.reported.get(site)
        if r is None:
            print(_("{site}: no report").format(site=site))
            drift += 1
        elif r.get("desired_digest") and r.get("desired_digest") != r.get("digest"):
            print(_("{site}: runs {version}, desired {desired} is {state}").format(
                site=site, version=r.get("version") or _("(installed)"),
                desired=r.get("desired_version"), state=r.get("state")))
            drift += 1
    if not drift:
        print(ngettext("{n} site runs what was pushed to it",
                       "{n} sites run what was pushed to them", len(sites)).format(n=len(sites)))
    return 1 if drift else 0
