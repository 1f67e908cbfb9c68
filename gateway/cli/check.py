"""``escogw check``: every file a site names, validated at once, exit 2 on any problem."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.core.site import Site, load_site, rules_path_for
from gateway.fleet.site_check import check_site
from gateway.i18n import _, ngettext


def check(args: argparse.Namespace) -> int:
    """Site file, every profile it names, serial bus budgets, the rule file and the tariff."""

    site = load_site(args.config)
    rules = rules_path_for(site, site.spec.gateway)
    outcome = check_site(site, rules)
    problems = outcome.problems
    if args.json:
        print(json.dumps({"ok": not problems, "site": site.id, "devices": len(site.devices),
                          "warnings": [str(w) for w in outcome.warnings],
                          "errors": [str(e) for e in problems]}))
    else:
        for warning in outcome.warnings:
            print(_("warning: {message}").format(message=warning), file=sys.stderr)
        for problem in problems:  # file:line: field: message, like every config error
            print(problem, file=sys.stderr)
        if not problems:
            print(_("{path}: ok — site {site}, {checked}").format(
                path=args.config, site=site.id, checked=_(", ").join(_checked(site, rules))))
    return 2 if problems else 0


def _checked(site: Site, rules: Path | None) -> list[str]:
    """What was checked, counted in the user's language: 4 links, 25 devices, the rule
    file and the tariff (site_check's ``checked`` says the same in English)."""
    links, devices = len(site.spec.links), len(site.devices)
    out = [ngettext("{n} link", "{n} links", links).format(n=links),
           ngettext("{n} device", "{n} devices", devices).format(n=devices)]
    if rules is not None:
        out.append(_("rules {file}").format(file=rules.name))
    if site.spec.site.tariff is not None:
        out.append(_("tariff {tariff}").format(tariff=site.spec.site.tariff))
    return out
