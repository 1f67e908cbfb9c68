"""The demo site's hot day with a car park of 20 chargers: the building's physics and the
demo rules' control engine (gateway/energy/virtual_site.py: the daemon's decide and write
path, without Modbus sockets) on a scaled clock, simulated charge points over real
websockets, and the gateway's central system and supervisor spending the budget the
engine's own demand limiter integrates from the main meter — which reads the AC, the base
load and the chargers together.

The demo rules' demand limit (32 kW) is for the office alone; a building that installs 20
chargers contracts more, so the day runs with ``limit_kw`` in place of 32.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from gateway.control.engine import ControlEngine
from gateway.control.rules import load_rules
from gateway.core.clock import ScaledClock
from gateway.core.site import Site, load_site
from gateway.energy.virtual_site import VirtualSite
from gateway.ev.allocator import Allocation
from gateway.ev.central_system import CentralSystem
from gateway.ev.charging_rules import Periods
from gateway.ev.supervisor import ChargingSupervisor
from simulators.ocpp.fleet import Fleet
from simulators.sim_config import load_simulation
from tests.ev.ev_world import TZ, stop_car_park
from tests.services import free_port
from tests.sitefiles import ROOT, replace_section, site_copy

DEMO_RULES = ROOT / "rules" / "demo-office.yaml"
STEP_S = 10.0


def car_park(port: int, n_ac: int = 18, n_dc: int = 2) -> dict[str, Any]:
    """18 × 11 kW AC on a 150 kW row and 2 × 60 kW DC: 318 kW if unchecked."""
    chargers: dict[str, Any] = {
        f"AC{i + 1:02d}": {"ac": {"phases": 3, "max_current_a": 16}, "circuit": "ac-row"}
        for i in range(n_ac)}
    chargers.update({f"DC{i + 1:02d}": {"dc": {"max_power_kw": 60, "min_power_kw": 5},
                                        "circuit": "dc-feeder"} for i in range(n_dc)})
    return {"margin_kw": 8, "failsafe_kw": 60, "cycle_s": 30, "failsafe_after_s": 300,
            "ramp_kw_per_cycle": 11, "meter_interval_s": 60, "host": "127.0.0.1",
            "port": port,
            "circuits": {"carpark": {"max_kw": 200},
                         "ac-row": {"max_kw": 150, "parent": "carpark"},
                         "dc-feeder": {"max_kw": 120, "parent": "carpark"}},
            "chargers": chargers}


def rules_text(limit_kw: float) -> str:
    """The demo rules with the car park's limit and a charging section for its chargers."""
    data = yaml.safe_load(DEMO_RULES.read_text())
    data["demand"]["limit_kw"] = limit_kw
    data["charging"] = {
        "comfort_first": ["13:00-18:00"], "reserve_kw": 11, "valley_first": True,
        "departures": {"pool-cars": {"chargers": ["AC01", "AC02", "AC03"], "leave": "17:00",
                                     "kwh": 20}}}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


class DemoDay:
    def __init__(self, tmp_path: Path, *, limit_kw: float = 120.0, speed: float = 300.0,
                 start: str = "2026-07-15T07:00:00"):
        port = free_port()
        self.site: Site = load_site(replace_section(site_copy(tmp_path), "charging",
                                                    car_park(port)))
        rules_path = tmp_path / "rules.yaml"
        rules_path.write_text(rules_text(limit_kw))
        self.rules = load_rules(rules_path, self.site)
        self.engine = ControlEngine(self.rules)
        self.vsite = VirtualSite(self.site, self.engine, load_simulation(self.site))
        self.clock = ScaledClock(datetime.fromisoformat(start).replace(tzinfo=TZ), speed)
        cfg = self.site.spec.charging
        assert cfg is not None and self.rules.demand is not None
        self.cfg = cfg
        self.limit_kw = self.rules.demand.limit_kw
        self.deadband_kw = self.rules.demand.deadband_kw
        self.cs = CentralSystem(cfg, self.clock, source="demo-day site.yaml")
        assert self.engine.demand is not None
        self.meter = self.engine.demand
        periods: Periods | None = self.rules.tariff
        self.supervisor = ChargingSupervisor(
            self.cs, cfg, self.clock, self.meter, self.limit_kw, on_cycle=self._cycled,
            rules=lambda: (self.rules.charging, periods), tz=self.site.tz)
        #: allocation cycles that handed out the whole budget: the limit bound
        self.binding_cycles = 0
        local = self.clock.now().astimezone(TZ)
        self.fleet = Fleet.from_site(cfg, f"ws://127.0.0.1:{port}/ocpp", self.clock, seed=17,
                                     start_s=local.hour * 3600 + local.minute * 60,
                                     first_arrival_h=8.0, tick_s=30.0)
        self.t = self.clock.now()
        self.ac_kw_max = 0.0
        self._tasks: list[asyncio.Task[Any]] = []

    def _cycled(self, alloc: Allocation) -> None:
        if alloc.limits and sum(alloc.limits.values()) >= alloc.budget_kw - 0.5:
            self.binding_cycles += 1

    async def _site(self) -> None:
        """The building and its control engine, one 10 s step at a time, kept up with the
        clock; the chargers' draw is on the main meter from the step after it changed."""
        while True:
            while self.t + timedelta(seconds=STEP_S) <= self.clock.now():
                self.vsite.building.other_load_kw = self.fleet.draw_kw
                self.vsite.advance(self.t, STEP_S)
                self.t += timedelta(seconds=STEP_S)
                await self.vsite.control(self.t, self.vsite.read(self.t))
                b = self.vsite.building
                ac = b.total_power_kw - b.other_load_kw
                self.ac_kw_max = max(self.ac_kw_max, ac)
            await self.clock.sleep(STEP_S)

    async def run(self, hours: float) -> None:
        self.server = await self.cs.serve(port=self.cfg.port)
        await self.vsite.control(self.t, self.vsite.read(self.t))
        self._tasks = [asyncio.ensure_future(self._site()),
                       asyncio.ensure_future(self.supervisor.run())]
        self.fleet.start()
        try:
            await asyncio.wait_for(self.fleet.connected(), 30)
            await self.clock.sleep(hours * 3600)
        finally:
            await stop_car_park(self.fleet, self._tasks, self.cs, self.server)

    def figures(self) -> dict[str, float]:
        windows = [avg for _, avg in self.meter.completed]
        long_stays = [car for car in self.fleet.departed() if car.stay_h >= 4]
        asked = sum(car.requested_kwh for car in long_stays)
        got = sum(car.delivered_kwh for car in long_stays)
        return {"windows": len(windows), "limit_kw": self.limit_kw,
                "over": sum(1 for avg in windows if avg > self.limit_kw + self.deadband_kw),
                "peak_kw": max(windows),
                "ac_peak_kw": self.ac_kw_max,
                "binding_cycles": self.binding_cycles,
                "delivered_pct": 100.0 * got / asked if asked else 100.0,
                "long_stays": len(long_stays),
                "ev_kwh": sum(car.delivered_kwh for car in self.fleet.cars())}
