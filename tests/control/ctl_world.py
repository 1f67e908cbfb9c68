"""Test helpers for the control engine: rule files from text, and ideal units that obey.

``World`` drives a real ``ControlEngine`` with readings built from a dict of unit
states; commands are applied at once (or fail, for the units/points a test
lists). Time is explicit: nothing here reads a clock.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control.engine import ControlEngine
from gateway.control.rules import load_rules
from gateway.control.ruleset import RuleSet
from gateway.control.state import Alarm, Notice, TickResult, UnitCommand
from gateway.core.site import Site, load_site

ROOT = Path(__file__).resolve().parents[2]
DEMO_SITE = ROOT / "config" / "demo-site.yaml"
DEMO_RULES = ROOT / "rules" / "demo-office.yaml"
TZ = ZoneInfo("Asia/Shanghai")
OFFICES = [f"ac-r{f}{i:02d}" for f in (1, 2) for i in range(1, 9)]
MEETING = ["ac-m101", "ac-m102", "ac-m201"]

#: protection off, so tests of other layers see every command at once
NO_PROTECTION = """
protection: {min_on_s: 0, min_off_s: 0, max_starts_per_hour: 60, changeover_delay_s: 0,
             restart_stagger_s: 0, comms_lost_s: 86400}
"""


@cache
def demo_site() -> Site:
    return load_site(DEMO_SITE)


def rules_from(tmp_path: Path, text: str, site: Site | None = None,
               name: str = "rules.yaml", extra: str = "") -> RuleSet:
    """Write ``text`` (dedented) plus ``extra`` as a rule file and load it."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text) + extra)
    return load_rules(path, site or demo_site())


def at(day: str, hhmm: str) -> datetime:
    """Site-local time: at("2026-07-15", "08:00")."""
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=TZ)


@dataclass
class World:
    rules: RuleSet
    t: datetime
    dry_run: bool = False
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    meter_kw: float | None = None
    #: (device, point) whose writes fail
    fail: set[tuple[str, str]] = field(default_factory=set)
    log: list[tuple[datetime, UnitCommand, bool]] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    outdoor_c: float | None = None

    def __post_init__(self) -> None:
        self.engine = ControlEngine(self.rules)
        for uid in self.rules.units:
            self.state.setdefault(uid, {"power": 0, "mode": 0, "setpoint_c": 26.0, "fan": 0,
                                        "room_temp_c": 27.0})
        self.seq = 0

    def readings(self) -> dict[str, Reading]:
        self.seq += 1
        out = {uid: Reading(uid, self.t, self.seq, dict(v)) for uid, v in self.state.items()}
        if self.meter_kw is not None and self.rules.demand is not None:
            out[self.rules.demand.meter] = Reading(
                self.rules.demand.meter, self.t, self.seq,
                {self.rules.demand.point: self.meter_kw})
        return out

    def tick(self) -> TickResult:
        result = self.engine.tick(self.t, self.readings(), self.outdoor_c)
        self.alarms.extend(result.alarms)
        self.notices.extend(result.notices)
        for cmd in result.all_commands():
            if self.dry_run:
                self.engine.note_dry_run(cmd)
                self.log.append((self.t, cmd, False))
                continue
            ok = (cmd.device, cmd.point) not in self.fail
            if ok:
                self.state[cmd.device][cmd.point] = cmd.value
                outcome = WriteOutcome(True, None, cmd.value)
            else:
                outcome = WriteOutcome(False, "read-back shows 0, wrote 1")
            self.alarms.extend(self.engine.note_outcome(cmd, outcome, self.t))
            self.log.append((self.t, cmd, ok))
        return result

    def run(self, until: datetime, step_s: float = 10.0) -> None:
        while self.t < until:
            self.tick()
            self.t += timedelta(seconds=step_s)

    def goto(self, when: datetime) -> None:
        """Jump (no ticks in between) and tick once."""
        self.t = when
        self.tick()

    def commands(self, device: str | None = None, point: str | None = None
                 ) -> list[tuple[datetime, UnitCommand, bool]]:
        return [(t, c, ok) for t, c, ok in self.log
                if (device is None or c.device == device) and (point is None or c.point == point)]
