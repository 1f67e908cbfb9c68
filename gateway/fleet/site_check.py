"""What ``escogw check`` checks, once: the site file's bus budgets, the rule file and the
tariff. ``escogw check`` prints it; a fleet bundle is applied only when it is clean."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.acquisition.bus_budget import budget_problems
from gateway.control.rules import load_rules
from gateway.core.site import Site, load_site
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


def check_bundle(site: Site, site_file: Path | None, rules: Path | None,
                 tariffs_dir: Path | None) -> CheckOutcome:
    """``check_site`` for what a bundle would run: its site file if it carries one (which
    must keep the site's id and its rule file's place: topics, credentials and the rules'
    path are not changed from afar), else the running site."""
    if site_file is None:
        return check_site(site, rules, tariffs_dir)
    try:
        new = load_site(site_file)
    except ConfigError as exc:
        return CheckOutcome(problems=list(exc.problems))
    problems = []
    if new.id != site.id:
        problems.append(Problem(str(site_file), None, "site.id",
                                f"{new.id!r}: a bundle cannot rename site {site.id!r} (its "
                                "topics and broker account are named after it)"))
    if new.spec.gateway.rules != site.spec.gateway.rules:
        problems.append(Problem(str(site_file), None, "gateway.rules",
                                f"{new.spec.gateway.rules}: the rule file's place is kept "
                                f"({site.spec.gateway.rules}); push the rules themselves"))
    if problems:
        return CheckOutcome(problems=problems)
    return check_site(new, rules, tariffs_dir)
