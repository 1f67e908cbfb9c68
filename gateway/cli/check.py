"""``escogw check``: every file a site names, validated at once, exit 2 on any problem."""

from __future__ import annotations

import argparse
import json
import sys

from gateway.acquisition.bus_budget import budget_problems
from gateway.control.rules import load_rules
from gateway.core.site import load_site, rules_path_for
from gateway.core.sourcefile import ConfigError
from gateway.energy.tariff import load_site_tariff


def check(args: argparse.Namespace) -> int:
    """Site file, every profile it names, serial bus budgets, the rule file and the tariff."""

    site = load_site(args.config)
    warnings, errors = budget_problems(site)
    problems: list[object] = list(errors)
    rules = rules_path_for(site, site.spec.gateway)
    checked = [f"{len(site.spec.links)} links", f"{len(site.devices)} devices"]
    if rules is not None:
        try:
            load_rules(rules, site)
            checked.append(f"rules {rules.name}")
        except ConfigError as exc:
            problems.extend(exc.problems)
    if site.spec.site.tariff is not None:
        try:
            load_site_tariff(site.spec.site.tariff, site_path=site.path)
            checked.append(f"tariff {site.spec.site.tariff}")
        except ConfigError as exc:
            problems.extend(exc.problems)
    if args.json:
        print(json.dumps({"ok": not problems, "site": site.id, "devices": len(site.devices),
                          "warnings": [str(w) for w in warnings],
                          "errors": [str(e) for e in problems]}))
    else:
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for problem in problems:  # file:line: field: message, like every config error
            print(problem, file=sys.stderr)
        if not problems:
            print(f"{args.config}: ok — site {site.id}, {', '.join(checked)}")
    return 2 if problems else 0
