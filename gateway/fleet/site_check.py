"""What ``escogw check`` checks, once: the site file's bus budgets, the rule file and the
tariff. ``escogw check`` prints it; a fleet bundle is applied only when it is clean."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.acquisition.bus_budget import budget_problems
from gateway.control.rules import load_rules
from gateway.core.site import Site
from gateway.core.sourcefile import ConfigError, Problem
from gateway.energy.tariff import load_site_tariff


@dataclass
class CheckOutcome:
    warnings: list[Problem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: what was checked, for the one-line summary ("20 devices", "rules office.yaml")
    checked: list[str] = field(default_factory=list)


def check_site(site: Site, rules: Path | None, tariffs_dir: Path | None = None) -> CheckOutcome:
    """Every problem of a loaded site with the rule file ``rules`` (None: no control).

    ``tariffs_dir``: look for the site's tariff only there (a bundle's staged tariff).
    """
    warnings, errors = budget_problems(site)
    out = CheckOutcome(list(warnings), list(errors),
                       [f"{len(site.spec.links)} links", f"{len(site.devices)} devices"])
    if rules is not None:
        try:
            load_rules(rules, site, tariffs_dir=tariffs_dir)
            out.checked.append(f"rules {rules.name}")
        except ConfigError as exc:
            out.problems.extend(exc.problems)
    if site.spec.site.tariff is not None:
        try:
            load_site_tariff(site.spec.site.tariff, tariffs_dir, site_path=site.path)
            out.checked.append(f"tariff {site.spec.site.tariff}")
        except ConfigError as exc:
            out.problems.extend(exc.problems)
    return out
