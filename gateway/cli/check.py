"""``escogw check``: every file a site names, validated at once, exit 2 on any problem."""

from __future__ import annotations

import argparse
import json
import sys

from gateway.core.site import load_site, rules_path_for
from gateway.fleet.site_check import check_site
from gateway.i18n import _


def check(args: argparse.Namespace) -> int:
    """Site file, every profile it names, serial bus budgets, the rule file and the tariff."""

    site = load_site(args.config)
    outcome = check_site(site, rules_path_for(site, site.spec.gateway))
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
                path=args.config, site=site.id, checked=", ".join(outcome.checked)))
    return 2 if problems else 0
