"""What the control loop did over a report period, from what the historian stores of its
audit records (``control_event``: tags device, point, rule, kind; fields before, after,
active, reason — gateway/historian/convert.py), and the demand exceedances from the
main meters' 15-minute demand.

- overrides: distinct operator overrides (rules ``override:<id>``) that changed or
  expired on a unit;
- clamp hits: changes the regulatory clamps decided (rules ``clamp:…``);
- demand actions: changes the demand limiter made (rule ``demand``: shed or relief);
- alarms: alarm records raised (``active`` 1), by key;
- demand exceedances: 15-minute windows of the site's demand above the limit, how many,
  in how many episodes (consecutive windows) and how long in all.

``events_stored`` False means the database holds no control event of the site at all
(the historian did not store them, or the gateway did not publish them): the report then
says "not available" rather than print 0. Pure: rows in, summary out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.energy.coverage import QUARTER
from gateway.energy.influx import Row


@dataclass
class AuditSummary:
    events_stored: bool
    overrides: set[str] = field(default_factory=set)
    clamp_hits: int = 0
    demand_actions: int = 0
    alarms: dict[str, int] = field(default_factory=dict)
    #: None: no demand limit to compare with
    limit_kw: float | None = None
    exceed_windows: int = 0
    exceed_episodes: int = 0

    @property
    def exceed_duration(self) -> timedelta:
        return self.exceed_windows * QUARTER

    @property
    def alarm_count(self) -> int:
        return sum(self.alarms.values())


def summarise(events: Iterable[Row], events_stored: bool,
              demand: Sequence[tuple[datetime, float | None]],
              limit_kw: float | None) -> AuditSummary:
    """``events``: the period's control_event rows; ``demand``: (start, kW) windows in order
    (None: no data for the window)."""
    out = AuditSummary(events_stored, limit_kw=limit_kw)
    for r in events:
        rule = r.tags.get("rule", "")
        kind = r.tags.get("kind", "")
        if rule.startswith("override:"):
            out.overrides.add(rule.partition(":")[2])
        if kind == "change" and rule.startswith("clamp:"):
            out.clamp_hits += 1
        elif kind == "change" and rule == "demand":
            out.demand_actions += 1
        elif kind == "alarm" and r.num("active") == 1.0:
            out.alarms[rule] = out.alarms.get(rule, 0) + 1
    if limit_kw is not None:
        previous = False
        for _t, kw in demand:
            over = kw is not None and kw > limit_kw
            if over:
                out.exceed_windows += 1
                if not previous:
                    out.exceed_episodes += 1
            previous = over
    return out
