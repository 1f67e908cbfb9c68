"""What-if KPIs of the shipped office rules against a naive rule set, and the co-simulation's speed.

1. The demo site (config/demo-site.yaml) on the hot summer day (weather
   ``wuhan-summer-hot``, Wednesday 2026-07-15, one warm-up day): the shipped rules
   rules/demo-office.yaml against rules/examples/naive-office.yaml as written —
   every unit on 08:00-18:00 at 24 °C (``--limits rules``: the building before
   trusteeship; its 24 °C commands are counted as violations). Figures of the
   shipped rules against the naive set, on the AC sub-meter (what rule sets
   control; BOPTEST's HVAC KPIs, IPMVP option B — docs/energy.md):

   ``whatif_cost_change_pct``  AC energy cost, % change (negative: cheaper)
   ``whatif_peak_change_pct``  AC peak 15-minute demand, % change
   ``whatif_discomfort_kh_per_zone``  BOPTEST tdis of the shipped rules, K·h per zone
   ``whatif_violations``  regulatory violations of the shipped rules
   ``whatif_short_cycles``  short cycles of the shipped rules
   ``whatif_site_cost_change_pct`` / ``whatif_site_peak_change_pct``  the same for the
   whole site (main meter: lighting and equipment included, which no rule touches)
   ``whatif_cost_change_pct_vs_clamped``  AC cost against the naive set held to the
   national limits (its 24 °C raised to 26 °C by the engine's clamp)
   ``whatif_{cost,peak}_change_pct_mean_6_seeds`` / ``..._worst_6_seeds`` and
   ``whatif_discomfort_kh_per_zone_worst_6_seeds``: the same comparison over six
   simulation seeds (who comes in when), so one lucky draw does not make the figure

2. ``whatif_seconds_50_rooms``: wall time of one simulated day (no warm-up) of a
   synthetic 50-room version of the demo building under the shipped rules (their
   demand limit scaled with the building: 32 kW × 50/20 rooms), site and rule loading
   included; the median of three runs in this (warm) process.
   ``whatif_seconds_50_rooms_cold``: the same in a fresh interpreter, timed from
   outside it (start-up and imports included): what an operator waits for.

Run: ``python -m bench.bench_whatif``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from gateway.core.site import load_site
from gateway.energy.whatif import Comparison, change_pct, run_day

ROOT = Path(__file__).resolve().parent.parent
DEMO_SITE = ROOT / "config" / "demo-site.yaml"
SHIPPED = ROOT / "rules" / "demo-office.yaml"
NAIVE = ROOT / "rules" / "examples" / "naive-office.yaml"
DAY = date(2026, 7, 15)
WEATHER = "wuhan-summer-hot"


def synthetic_site(folder: Path, rooms: int = 50) -> Path:
    """The demo building grown to ``rooms`` rooms (offices, a meeting room every tenth, the
    server room srv201), with the demo's meters and ids, so the demo's rule files apply."""
    devices: dict[str, Any] = {
        "main-meter": {"link": "meters", "profile": "eastron-sdm630", "unit_id": 1,
                       "tags": {"role": "main"}, "simulate": {"meter": "main"}},
        "ac-meter": {"link": "meters", "profile": "acrel-adl400", "unit_id": 2,
                     "tags": {"role": "ac"}, "simulate": {"meter": "ac"}},
        "water-meter": {"link": "meters", "profile": "generic-tuf2000m", "unit_id": 3,
                        "poll_interval_s": 60, "tags": {"role": "main"},
                        "simulate": {"meter": "water"}},
    }
    room_cfg: dict[str, Any] = {}
    area = 0.0
    people = 0
    for n in range(rooms):
        floor = str(n // 25 + 1)
        if n == rooms - 1:
            rid, kind, use, m2, occ, kw = "srv201", "server", "server", 20, 0, 5.0
        elif n % 10 == 9:
            rid, kind, use, m2, occ, kw = f"m{n:03d}", "meeting", "meeting", 60, 12, 7.2
        else:
            rid, kind, use, m2, occ, kw = f"r{n:03d}", "office", "office", 30, 3, 3.5
        room_cfg[rid] = {"kind": kind, "floor_area_m2": m2, "occupants": occ, "floor": floor}
        sim: dict[str, Any] = {"room": rid, "rated_cooling_kw": kw,
                               "unit_kind": "fixed" if n % 4 == 3 else "inverter"}
        if use == "server":
            sim.update({"power": True, "setpoint_c": 24})
        devices[f"ac-{rid}"] = {"link": "coolmaster", "profile": "coolautomation-coolmasternet",
                                "unit_id": 1, "index": n + 1, "area_m2": m2,
                                "tags": {"floor": floor, "zone": rid, "use": use},
                                "simulate": sim}
        area += m2
        people += occ
    doc = {"site": {"id": "demo-office", "name": f"synthetic {rooms}-room office",
                    "floor_area_m2": round(area * 1.8), "occupants": people,
                    "tariff": "hubei-general-ic"},
           "links": {"meters": {"transport": "tcp", "host": "127.0.0.1", "port": 15121},
                     "coolmaster": {"transport": "tcp", "host": "127.0.0.1", "port": 15120}},
           "devices": devices,
           "simulation": {"seed": 7, "weather": WEATHER, "base_load_w_m2": 3,
                          "rooms": room_cfg}}
    path = folder / "site-50.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


def scaled_rules(folder: Path, rooms: int) -> Path:
    """The shipped rules with the demand limit scaled from the demo's 20 rooms, without
    their car park (the synthetic building has no chargers for its departures to name)."""
    data = yaml.safe_load(SHIPPED.read_text("utf-8"))
    if data.get("demand", {}).get("limit_kw") != 32:
        raise RuntimeError(f"{SHIPPED} no longer says limit_kw: 32; update the bench")
    data["demand"]["limit_kw"] = 32 * rooms / 20
    data.pop("charging", None)
    (folder / "rules").mkdir(exist_ok=True)
    path = folder / "rules" / "demo-office-scaled.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    return path


WARM_RUNS = 3
OTHER_SEEDS = (1, 2, 3, 4, 5)  # besides the demo site's own simulation.seed (42)


def run() -> dict[str, float]:
    site = load_site(DEMO_SITE)
    shipped = run_day(site, SHIPPED, DAY, weather=WEATHER)
    naive = run_day(site, NAIVE, DAY, weather=WEATHER, limits="rules")
    clamped = run_day(site, NAIVE, DAY, weather=WEATHER)
    figures = Comparison(shipped, naive).figures()
    figures["whatif_cost_change_pct_vs_clamped"] = round(
        change_pct(float(shipped.kpis.ac_cost), float(clamped.kpis.ac_cost)), 2)
    by_seed = [dict(figures)] + [
        Comparison(run_day(site, SHIPPED, DAY, weather=WEATHER, sim_seed=seed),
                   run_day(site, NAIVE, DAY, weather=WEATHER, limits="rules",
                           sim_seed=seed)).figures() for seed in OTHER_SEEDS]
    for name in ("whatif_cost_change_pct", "whatif_peak_change_pct"):
        values = [f[name] for f in by_seed]
        figures[f"{name}_mean_6_seeds"] = round(sum(values) / len(values), 2)
        figures[f"{name}_worst_6_seeds"] = max(values)
    figures["whatif_discomfort_kh_per_zone_worst_6_seeds"] = max(
        f["whatif_discomfort_kh_per_zone"] for f in by_seed)
    figures["whatif_seconds_50_rooms"] = round(statistics.median(
        timed_day() for _ in range(WARM_RUNS)), 3)
    started = time.perf_counter()  # cold: a fresh interpreter, imports included
    subprocess.run([sys.executable, "-c", "from bench.bench_whatif import timed_day; "
                    "timed_day()"], cwd=ROOT, check=True)
    figures["whatif_seconds_50_rooms_cold"] = round(time.perf_counter() - started, 3)
    return figures


def timed_day() -> float:
    """Seconds to load the 50-room site and its rules and simulate one day under them."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        big = load_site(synthetic_site(Path(tmp)))
        rules = scaled_rules(Path(tmp), 50)
        run_day(big, rules, DAY, weather=WEATHER, warmup_days=0)
        return time.perf_counter() - started


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
