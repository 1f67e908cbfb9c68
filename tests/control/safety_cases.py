"""Generated control days for the safety invariants (issue 14): the real engine and the real
actuator (with its safety guard) over ideal units that take every write one point at a time,
while occupants work the wall remote, operators override, readings go missing and rule
sets change. Shared by tests/control/test_safety_property.py and bench/bench_safety.py.

What is checked, write by write and tick by tick:

- no gateway write takes a running, non-exempt unit from inside the limits to outside
  them (cooling below the floor, heating above the ceiling, auto), even between two
  writes of one tick, and at the end of each tick a fresh, running unit is inside them
  (judged where the gateway read the unit this tick: an occupant's change it has not
  read yet is a race no gateway can see);
- the guard never had to refuse a write (a refusal means a layer proposed one);
- no flapping: one rule does not set a point back to a value another rule undid
  (A → B → A) within five minutes unless something outside (occupant, override — its
  start or its end, which hands the unit back to the rules) touched the unit;
- protection: a switch the gateway made honours the minimum on/off time after the
  gateway's own last switch of that unit;
- every override has expired by its end (plus one tick).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control.actuator import Actuator
from gateway.control.engine import ControlEngine
from gateway.control.rules import load_rules
from gateway.control.ruleset import RuleSet
from gateway.control.safety_guard import SafetyGuard
from gateway.control.write_order import violation
from gateway.core.profile import Value
from gateway.core.semantics import MODE_CODES
from gateway.core.site import Site, load_site

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")

#: (site file, rule file): the shipped sets and the protection-free demo variant
RULE_SETS = [
    ("config/demo-site.yaml", "rules/demo-office.yaml"),
    ("rules/examples/hospital-site.yaml", "rules/examples/hospital.yaml"),
    ("rules/examples/school-site.yaml", "rules/examples/school.yaml"),
    ("config/demo-site.yaml", "no-protection"),
]
#: days of every kind across the year: workdays in each season, weekends, statutory
#: holidays, 调休 make-up working days, the changeover months
DAYS = [date(2026, m, d) for m, d in [
    (1, 1), (1, 12), (2, 17), (2, 28), (3, 16), (4, 5), (5, 1), (5, 9), (5, 18), (6, 19),
    (7, 15), (8, 22), (9, 30), (10, 1), (10, 12), (11, 3), (12, 6), (12, 7), (12, 21)]]


@cache
def rule_set(index: int, tmp: Path) -> tuple[Site, RuleSet]:
    site_file, rules_file = RULE_SETS[index]
    site = load_site(ROOT / site_file)
    if rules_file == "no-protection":
        text = (ROOT / "rules" / "demo-office.yaml").read_text()
        for key, value in (("min_on_s", 300), ("min_off_s", 300), ("changeover_delay_s", 600),
                           ("restart_stagger_s", 120)):
            text = text.replace(f"  {key}: {value}", f"  {key}: 0", 1)
        path = tmp / "no-protection.yaml"
        path.write_text(text)
        return site, load_rules(path, site)
    return site, load_rules(ROOT / rules_file, site)


@dataclass
class Units:
    """Ideal units: one point per write, read back at once."""

    state: dict[str, dict[str, Value]]
    #: every write in order: (unit, point, value, state after it)
    log: list[tuple[str, str, Value, dict[str, Value]]] = field(default_factory=list)

    async def write(self, device_id: str, point_name: str, value: Value, *,
                    ttl_s: float | None = None, verify: bool = True) -> WriteOutcome:
        self.state[device_id][point_name] = value
        self.log.append((device_id, point_name, value, dict(self.state[device_id])))
        return WriteOutcome(True, None, value)


@dataclass
class Outcome:
    cases: int = 0
    ticks: int = 0
    writes: int = 0
    violations: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.cases += other.cases
        self.ticks += other.ticks
        self.writes += other.writes
        self.violations += other.violations


def run_case(seed: int, tmp: Path, ticks: int = 120, step_s: float = 30.0) -> Outcome:
    return asyncio.run(_run_case(seed, tmp, ticks, step_s))


async def _run_case(seed: int, tmp: Path, ticks: int, step_s: float) -> Outcome:
    rng = random.Random(seed)
    _, rules = rule_set(rng.randrange(len(RULE_SETS)), tmp)
    day = rng.choice(DAYS)
    start = datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(
        minutes=rng.choice([0, 300, 420, 450, 465, 700, 960, 1070, 1190, 1300]))
    engine = ControlEngine(rules)
    modes = list(MODE_CODES.values())
    units = Units({u: {"power": rng.choice([0, 0, 1]), "mode": rng.choice(modes),
                       "setpoint_c": float(rng.choice(range(16, 33))), "fan": 0,
                       "room_temp_c": round(rng.uniform(12, 34), 1)} for u in rules.units})
    latest: dict[str, Reading] = {}
    policy = rules.setpoint_policy()
    zones = {u: info.zone for u, info in rules.units.items()}
    guard = SafetyGuard(policy, zones, latest)
    actuator = Actuator(units, guard)
    out = Outcome(cases=1)
    touched: dict[str, float] = {}  # unit → when something outside last changed it
    written: dict[tuple[str, str], list[tuple[float, Value, str]]] = {}
    switched: dict[str, tuple[float, int]] = {}  # unit → (when, to) of the gateway's switch
    overrides: list[tuple[str, str, float]] = []  # (unit, id, until)
    prot = rules.protection
    meter_kw = rng.uniform(10, 60)
    now = start
    for n in range(ticks):
        t = now.timestamp()
        # the world moves: occupants, operators, missing readings
        for u in rules.units:
            if rng.random() < 0.01:
                point = rng.choice(["power", "mode", "setpoint_c"])
                units.state[u][point] = {"power": rng.choice([0, 1]),
                                         "mode": rng.choice(modes),
                                         "setpoint_c": float(rng.choice(range(16, 33)))}[point]
                touched[u] = t
        if rng.random() < 0.05:
            u = rng.choice(list(rules.units))
            values: dict[str, int | float] = rng.choice([
                {"setpoint_c": float(rng.choice(range(16, 33)))},
                {"mode": rng.choice(modes)}, {"power": rng.choice([0, 1])},
                {"power": 1, "mode": MODE_CODES["cool"], "setpoint_c": 22.0}])
            values = {k: v for k, v in values.items() if k in rules.units[u].writable}
            if values:
                ov = engine.add_override(u, values, now, override_id=f"ov{n}",
                                         duration_s=rng.choice([None, 60.0, 600.0, 3600.0]))
                overrides.append((u, ov.id, ov.until))
                touched[u] = t
        for u, v in units.state.items():
            if rng.random() > 0.02:  # a reading goes missing now and then
                latest[u] = Reading(u, now, n, dict(v))
        if rules.demand is not None:  # the site's load wanders, as a meter's does
            meter_kw = min(80.0, max(5.0, meter_kw + rng.uniform(-3, 3)))
            latest[rules.demand.meter] = Reading(rules.demand.meter, now, n, {
                rules.demand.point: meter_kw})
        for u, _, until in overrides:  # an override's end hands the unit back: a touch too
            if t - step_s < until <= t:
                touched[u] = until
        before = {u: dict(v) for u, v in units.state.items()}
        result = engine.tick(now, latest)
        mark = len(units.log)
        outcomes = await actuator.apply(result.commands)
        for cmd, outcome in outcomes:
            engine.note_outcome(cmd, outcome, now)
            if not outcome.ok:
                out.violations.append(f"seed {seed} {now:%m-%d %H:%M:%S} {cmd.device}."
                                      f"{cmd.point}={cmd.value}: {outcome.error}")
        out.ticks += 1
        out.writes += len(units.log) - mark
        # judged on what the gateway could know: a unit whose reading this tick went
        # missing may have been changed at the remote since the last one it saw
        fresh = {u for u, r in latest.items() if r.ts == now}
        _check_writes(seed, now, [w for w in units.log[mark:] if w[0] in fresh], before,
                      guard, rules, out)
        _check_tick_end(seed, now, units.state, latest, guard, rules, out)
        # flapping is judged on what each tick left (an off-and-on inside one tick, to
        # cross from cooling to heating, is one move), and a flap is the same rule coming
        # back to a value another undid (a schedule's new step after a demand relief is a
        # new input, not a flap)
        settled = {(c.device, c.point): (c.value, c.rule) for c, o in outcomes if o.ok}
        for (u, point), (value, rule) in settled.items():
            history = written.setdefault((u, point), [])
            history.append((t, value, rule))
            recent = [h for h in history if t - h[0] <= 300 and h[0] > touched.get(u, -1)]
            if len(recent) >= 3 and recent[-1][1] == recent[-3][1] != recent[-2][1] \
                    and recent[-1][2] == recent[-3][2]:
                out.violations.append(f"seed {seed} {now:%m-%d %H:%M} {u}.{point} flaps: "
                                      f"{[(v, r) for _, v, r in recent[-3:]]}")
        for u, point, switched_to, _ in units.log[mark:]:
            if point == "power" and switched_to != before[u]["power"]:
                last = switched.get(u)
                hold = prot.min_on_s if switched_to == 0 else prot.min_off_s
                if last is not None and last[1] != switched_to and t - last[0] < hold \
                        and touched.get(u, -1) < last[0]:
                    out.violations.append(f"seed {seed} {now:%m-%d %H:%M} {u} switched "
                                          f"after {t - last[0]:.0f} s (min {hold:g} s)")
                switched[u] = (t, int(switched_to))
        for u, oid, until in overrides:
            if t > until + step_s and any(ov.id == oid for ov in engine.overrides.of(u).values()):
                out.violations.append(f"seed {seed} override {oid} of {u} outlived its end")
        now += timedelta(seconds=step_s)
    return out


def _running_violation(guard: SafetyGuard, u: str, state: Mapping[str, Any],
                       rules: RuleSet) -> str | None:
    if rules.units[u].exempt is not None:
        return None
    return violation(guard.rule_for(u), state)


def _check_writes(seed: int, now: datetime, log: list[tuple[str, str, Value, dict[str, Value]]],
                  before: dict[str, dict[str, Value]], guard: SafetyGuard, rules: RuleSet,
                  out: Outcome) -> None:
    previous = {u: dict(v) for u, v in before.items()}
    for u, point, value, after in log:
        was = _running_violation(guard, u, previous[u], rules)
        now_bad = _running_violation(guard, u, after, rules)
        if now_bad is not None and was is None:
            out.violations.append(f"seed {seed} {now:%m-%d %H:%M:%S} {u}.{point}={value} "
                                  f"took the unit outside the limits: {now_bad}")
        previous[u] = after


def _check_tick_end(seed: int, now: datetime, state: dict[str, dict[str, Value]],
                    latest: Mapping[str, Reading], guard: SafetyGuard, rules: RuleSet,
                    out: Outcome) -> None:
    for u in rules.units:
        reading = latest.get(u)
        if reading is None or reading.ts != now:  # no fresh reading: safety leaves it alone
            continue
        why = _running_violation(guard, u, state[u], rules)
        if why is not None:
            out.violations.append(f"seed {seed} {now:%m-%d %H:%M:%S} {u} left outside the "
                                  f"limits after the tick: {why} ({state[u]})")
