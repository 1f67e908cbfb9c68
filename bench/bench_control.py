"""One control tick over 1,000 AC units (target ≤ 10 ms): ``control_tick_ms_1000_units``.

A synthetic site of 1,000 CoolMasterNet indoor units (16 gateways × 63 units,
10 floors, offices / meeting rooms / labs, one exempt server room per floor)
under a realistic rule set: schedules per group and season, a sweep,
pre-cooling with the peak float, a demand limit with shed classes, the
regulatory clamps and equipment protection. Each tick gets a fresh reading
for every unit and the meter (so the figure includes taking readings in), as
the live loop does every ``engine.tick_s``. The figure is the median tick over
an hour of a working day (10:00-11:00, 360 ticks), steady state with a few
local changes per tick to clamp; ``control_tick_ms_1000_units_peak`` is the
tick at 08:00, when every unit gets its start-of-day commands: the median of five
fresh engines (the first includes what Python warms up on first use).
Run: ``python -m bench.bench_control``.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control.engine import ControlEngine
from gateway.control.rules import load_rules
from gateway.control.ruleset import RuleSet
from gateway.core.site import load_site

TZ = ZoneInfo("Asia/Shanghai")
UNITS = 1000
PEAK_RUNS = 5

RULES = """
version: 1
groups:
  offices: {match: {use: office}}
  meeting: {match: {use: meeting}}
  labs: {match: {use: lab}}
  servers: {match: {use: server}}
  upper: {match: {floor: ["8", "9", "10"]}}
policy:
  exemptions:
    - zone: [srv1, srv2, srv3, srv4, srv5, srv6, srv7, srv8, srv9, srv10]
      reason: "server rooms"
schedules:
  offices:
    group: offices
    months: "5-10"
    workday:
      - {at: "08:00", power: on, mode: cool, setpoint_c: 26, fan: auto}
      - {at: "18:00", power: off}
    off_day: [{at: "07:00", power: off}]
  upper-offices:
    group: upper
    except: [servers, meeting, labs]
    months: "5-10"
    workday:
      - {at: "08:00", setpoint_c: 27}
  meeting:
    group: meeting
    months: "5-10"
    workday:
      - {at: "08:30", power: on, mode: cool, setpoint_c: 26}
      - {at: "12:00", power: off}
      - {at: "13:45", power: on}
      - {at: "17:30", power: off}
  labs:
    group: labs
    workday:
      - {at: "07:30", power: on, mode: cool, setpoint_c: 26}
      - {at: "20:00", power: off}
  servers:
    group: servers
    hold: always
    every_day: [{at: "00:00", power: on, mode: cool, setpoint_c: 23}]
sweeps:
  after-hours: {group: all, except: [servers], at: ["19:00", "21:00", "23:00"]}
precool:
  valley:
    group: offices
    months: "6-9"
    window: {from: "12:00", to: "14:00"}
    setpoint_c: 26
    peak_setpoint_c: 27
    min_outdoor_c: 30
demand:
  meter: main-meter
  limit_kw: 2500
  deadband_kw: 50
  max_units_per_pass: 20
  shed:
    - {group: meeting, class: 1}
    - {group: offices, class: 2}
    - {group: labs, class: 3}
"""


def build_site(folder: Path) -> Path:
    devices: dict[str, dict[str, object]] = {
        "main-meter": {"link": "meters", "profile": "eastron-sdm630", "unit_id": 1}}
    links: dict[str, dict[str, object]] = {
        "meters": {"transport": "tcp", "host": "127.0.0.1", "port": 5100}}
    rng = random.Random(1)
    for n in range(UNITS):
        gw, index = divmod(n, 63)
        link = f"gw{gw}"
        links.setdefault(link, {"transport": "tcp", "host": "127.0.0.1", "port": 5000 + gw})
        floor = n // 100 + 1
        use = "server" if n % 100 == 99 else rng.choice(["office"] * 8 + ["meeting", "lab"])
        zone = f"srv{floor}" if use == "server" else f"z{n}"
        devices[f"ac-{n:04d}"] = {
            "link": link, "profile": "coolautomation-coolmasternet", "unit_id": 1,
            "index": index + 1, "tags": {"floor": str(floor), "use": use, "zone": zone}}
    site = {"site": {"id": "bench", "floor_area_m2": 40000, "occupants": 2000,
                     "tariff": "hubei-general-ic"},
            "links": links, "devices": devices}
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, sort_keys=False))
    return path


Tick = Callable[[datetime, float], float]


def start_of_day(rules: RuleSet) -> tuple[float, ControlEngine, dict[str, dict[str, Any]], Tick]:
    """A fresh engine from 07:58 to its 08:00 tick: (that tick's seconds, the engine, the
    units' state, the tick function to go on with)."""
    engine = ControlEngine(rules)
    state: dict[str, dict[str, Any]] = {
        u: {"power": 0, "mode": 0, "setpoint_c": 26.0, "fan": 3, "room_temp_c": 27.0}
        for u in rules.units}
    seq = 0

    def tick(t: datetime, meter_kw: float) -> float:
        nonlocal seq
        seq += 1
        latest = {u: Reading(u, t, seq, dict(v)) for u, v in state.items()}
        latest["main-meter"] = Reading("main-meter", t, seq, {"active_power_kw": meter_kw})
        started = time.perf_counter()
        result = engine.tick(t, latest, 33.0)
        elapsed = time.perf_counter() - started
        for cmd in result.all_commands():
            state[cmd.device][cmd.point] = cmd.value
            engine.note_outcome(cmd, WriteOutcome(True, None, cmd.value), t)
        return elapsed

    t = datetime(2026, 7, 15, 7, 58, tzinfo=TZ)
    while t < datetime(2026, 7, 15, 8, 0, tzinfo=TZ):
        tick(t, 800.0)
        t += timedelta(seconds=10)
    return tick(t, 800.0), engine, state, tick


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        site = load_site(build_site(folder))
        (folder / "rules.yaml").write_text(RULES)
        rules = load_rules(folder / "rules.yaml", site)
    assert len(rules.units) == UNITS
    peaks = [start_of_day(rules)[0] for _ in range(PEAK_RUNS)]
    _, _, state, tick = start_of_day(rules)
    rng = random.Random(2)
    t = datetime(2026, 7, 15, 10, 0, tzinfo=TZ)
    samples = []
    units = list(rules.units)
    for _ in range(360):
        for _ in range(5):  # occupants at the wall remotes
            u = rng.choice(units)
            state[u]["setpoint_c"] = float(rng.choice([24, 25, 27, 28]))
        samples.append(tick(t, 2000.0 + rng.uniform(-50, 50)))
        t += timedelta(seconds=10)
    peak = statistics.median(peaks)
    return {"control_tick_ms_1000_units": round(statistics.median(samples) * 1000, 3),
            "control_tick_ms_1000_units_peak": round(peak * 1000, 3)}


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
