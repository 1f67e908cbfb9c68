"""What-if KPIs of the shipped office rules against a naive rule set, and the co-simulation's speed.

1. The demo site (config/demo-site.yaml) on the hot summer day (weather
   ``wuhan-summer-hot``, Wednesday 2026-07-15, one warm-up day): the shipped rules
   rules/demo-office.yaml against rules/examples/naive-office.yaml (every unit on
   08:00-18:00 at 24 °C), both under the national limits (the naive set's 24 °C is
   clamped to 26 °C and counted). Figures of the shipped rules against the naive
   set — the site's bill and main meter unless named ``ac``:

   ``whatif_cost_change_pct``  site energy cost, % change (negative: cheaper)
   ``whatif_peak_change_pct``  site peak 15-minute demand, % change
   ``whatif_discomfort_kh_per_zone``  BOPTEST tdis of the shipped rules, K·h per zone
   ``whatif_violations``  regulatory violations of the shipped rules
   ``whatif_short_cycles``  short cycles of the shipped rules
   ``whatif_ac_cost_change_pct`` / ``whatif_ac_peak_change_pct``  the same for the AC
   sub-meter only (what the rules control)
   ``whatif_cost_change_pct_vs_unclamped``  site cost against the naive set run at
   its own 24 °C (``--limits rules``: what the building used before the limits held)

2. ``whatif_seconds_50_rooms``: wall time of one simulated day (no warm-up) of a
   synthetic 50-room version of the demo building under the shipped rules (their
   demand limit scaled with the building: 32 kW × 50/20 rooms), rule loading included.

Run: ``python -m bench.bench_whatif``.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from gateway.energy.whatif import Comparison, change_pct, run_day
from gateway.site import load_site

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
    """The shipped rules with the demand limit scaled from the demo's 20 rooms."""
    text = SHIPPED.read_text("utf-8")
    scaled = text.replace("limit_kw: 32", f"limit_kw: {32 * rooms / 20:g}")
    if scaled == text:
        raise RuntimeError(f"{SHIPPED} no longer says limit_kw: 32; update the bench")
    (folder / "rules").mkdir(exist_ok=True)
    path = folder / "rules" / "demo-office-scaled.yaml"
    path.write_text(scaled, "utf-8")
    return path


def run() -> dict[str, float]:
    site = load_site(DEMO_SITE)
    shipped = run_day(site, SHIPPED, DAY, weather=WEATHER)
    naive = run_day(site, NAIVE, DAY, weather=WEATHER)
    unclamped = run_day(site, NAIVE, DAY, weather=WEATHER, limits="rules")
    figures = Comparison(shipped, naive).figures()
    a, b = shipped.kpis, naive.kpis
    figures["whatif_ac_cost_change_pct"] = round(change_pct(float(a.ac_cost),
                                                            float(b.ac_cost)), 2)
    figures["whatif_ac_peak_change_pct"] = round(change_pct(a.ac_peak_kw, b.ac_peak_kw), 2)
    figures["whatif_cost_change_pct_vs_unclamped"] = round(
        change_pct(float(a.cost), float(unclamped.kpis.cost)), 2)
    with tempfile.TemporaryDirectory() as tmp:
        big = load_site(synthetic_site(Path(tmp)))
        rules = scaled_rules(Path(tmp), 50)
        timed = run_day(big, rules, DAY, weather=WEATHER, warmup_days=0)
    figures["whatif_seconds_50_rooms"] = round(timed.kpis.wall_s, 3)
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
