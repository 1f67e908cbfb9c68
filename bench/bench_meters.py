"""A DL/T 645 / CJ/T 188 meter line's use of its wire, measured through the real scheduler.

`dlt645_cycle_over_wire_bound`: an emulated 2400-baud 8E1 RS-485 meter line
(the standard's default), reached through a serial server (the simulators,
wire time on: each reply leaves when the line would deliver it) with a
generic DL/T 645-2007 three-phase meter (17 data identifiers), a CHINT
DTSU666 in its DL/T 645 mode (12) and a CJ/T 188 water meter (one 901F read).
Each meter is polled once per cycle, back to back through the real
LinkScheduler and MeterLink; the figure is the cycle's wall time over the
wire-time lower bound of its requests (bus_budget.meter_read_time_s: request
and reply with their four FE wake-up bytes at 11 bits a character, plus the
profile's turnaround). Target ≤ 1.15.

    python -m bench meters
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench.bench_acquisition import _site, median_cycle_s, simulators

CYCLES = 3


def site_meters(folder: Path) -> Path:
    from devkit.services import free_port

    links = {"m645": {"transport": "rtu-over-tcp", "protocol": "dlt645", "host": "127.0.0.1",
                      "port": free_port(), "timeout_s": 1.0}}  # 2400 8E1 by default
    devices: dict[str, Any] = {
        "revenue": {"link": "m645", "profile": "generic-dlt645-2007",
                    "address": "000012345678", "poll_interval_s": 60,
                    "simulate": {"meter": "ac"}},
        "sub": {"link": "m645", "profile": "chint-dtsu666-dlt645", "address": "000000000002",
                "poll_interval_s": 60, "simulate": {"meter": "ac"}},
        "water": {"link": "m645", "profile": "generic-cjt188-water",
                  "address": "00000000001234", "poll_interval_s": 60,
                  "simulate": {"meter": "water"}},
    }
    path = folder / "site-meters.yaml"
    path.write_text(yaml.safe_dump(_site(links, devices, wire_time=True), sort_keys=False))
    return path


async def _cycles(site_path: Path, cycles: int) -> tuple[float, float]:
    """(median wall time of one full poll cycle, its wire-time lower bound), seconds."""
    from gateway.acquisition.bus_budget import link_budget
    from gateway.core.site import load_site

    site = load_site(site_path)
    budget = link_budget(site, "m645")
    assert budget is not None and budget.line == "2400 baud 8E1"
    bound = sum(d.cycle_s for d in budget.devices)
    return await median_cycle_s(site, "m645", cycles, "the meter line"), bound


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-meters-") as tmp:
        site = site_meters(Path(tmp))
        with simulators(site):
            cycle, bound = asyncio.run(_cycles(site, CYCLES))
    print(f"meter line cycle {cycle:.3f} s, wire-time lower bound {bound:.3f} s",
          file=sys.stderr)
    return {"dlt645_cycle_over_wire_bound": cycle / bound}


def main() -> None:
    for name, value in run().items():
        print(f"{name}: {value:.4g}")


if __name__ == "__main__":
    main()
