"""When the demo's simulated day starts: a few minutes before the rules first switch units on.

The site file's ``simulation.start`` gives the day (a summer workday for the demo
site). Started at the site file's time (07:55) the gateway's start-up switched the
offices on at once (the schedule's 07:00 step, after the night-valley pre-cool the
simulators never ran), with nothing to watch. Asking the rules' own plan for the day
(``escogw rules plan``, gateway/control/plan.py) finds the first switch-on instead,
whatever the rule file says, and the demo starts ``LEAD`` before it. The plan is given
the rooms' temperatures the simulators start from: an optimal start's time depends on
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from gateway.control.plan import plan_day
from gateway.control.rules.compile import load_rules
from gateway.core.site import Site
from simulators.sim_config import load_simulation
from simulators.site_physics import build_building

LEAD = timedelta(minutes=5)


@dataclass(frozen=True)
class SwitchOn:
    """The first time on the simulated day that a rule switches units on."""

    at: datetime
    rule: str
    units: tuple[str, ...]
    reason: str


def site_start(site: Site) -> datetime:
    """The site file's simulation start, site-local (now, when it names none)."""
    raw: Any = (site.spec.simulation or {}).get("start")
    if raw is None:
        return datetime.now(site.tz).replace(microsecond=0)
    start = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    return start.replace(tzinfo=site.tz) if start.tzinfo is None else start.astimezone(site.tz)


def starting_rooms(site: Site) -> dict[str, float]:
    """Each simulated AC unit's room temperature when the simulators start, °C."""
    sim = load_simulation(site)
    building = build_building(sim)
    return {uid: building.rooms[dev.room].t_air_c for uid, dev in sim.devices.items()
            if dev.room is not None and dev.room in building.rooms}


def first_switch_on(site: Site, rules_path: Path | str, day: date,
                    after: datetime | None = None) -> SwitchOn | None:
    """The rules' first power-on of ``day`` (at or after ``after``), with every unit that
    rule switches on at that minute (the rule that switches the most, when several do)."""
    rules = load_rules(rules_path, site)
    plan = plan_day(rules, day, room_c=starting_rooms(site))
    rows = sorted((r for r in plan.rows if r.point == "power" and r.after == 1
                   and (after is None or r.at >= after)), key=lambda r: r.at)
    if not rows:
        return None
    at = rows[0].at
    by_rule: dict[str, list[str]] = {}
    for r in rows:
        if r.at == at:
            by_rule.setdefault(r.rule, []).append(r.device)
    rule = max(by_rule, key=lambda name: len(by_rule[name]))
    reason = next(r.reason for r in rows if r.at == at and r.rule == rule)
    return SwitchOn(at, rule, tuple(by_rule[rule]), reason)


def choose_start(site: Site, rules_path: Path | str | None, at: time | None
                 ) -> tuple[datetime, SwitchOn | None]:
    """The simulated start: ``at`` on the site file's day if given (with the first switch-on
    after it), else ``LEAD`` before the rules' first switch-on of the day (the site file's
    own start when the rules switch nothing on)."""
    configured = site_start(site)
    if at is not None:
        start = datetime.combine(configured.date(), at, site.tz)
        return start, first_switch_on(site, rules_path, start.date(), start) \
            if rules_path else None
    switch_on = first_switch_on(site, rules_path, configured.date()) if rules_path else None
    if switch_on is None:
        return configured, None
    return switch_on.at - LEAD, switch_on


def with_start(site: Site, start: datetime) -> None:
    """Make the simulators start at ``start`` (the site file itself is not touched)."""
    simulation = dict(site.spec.simulation or {})
    simulation["start"] = start.astimezone(site.tz).replace(tzinfo=None).isoformat()
    site.spec = site.spec.model_copy(update={"simulation": simulation})
