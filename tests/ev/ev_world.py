"""A car park over real websockets for tests: the gateway's central system and supervisor,
simulated charge points, and a site meter that reads the AC load plus what the cars draw.

The AC load is the demo office's hot-day curve (a morning start at 08:00–09:00, the
afternoon peak), a function of the local time; the meter integrates it with the fleet's
actual draw into the demand limiter's window, so the allocator spends the same budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway.control.demand import DemandController
from gateway.control.ruleset import DemandConfig
from gateway.core.chargers import ChargingConfig
from gateway.core.clock import Clock, ScaledClock
from gateway.ev.central_system import CentralSystem
from gateway.ev.supervisor import ChargingSupervisor
from simulators.ocpp.fleet import Fleet
from tests.services import free_port

TZ = ZoneInfo("Asia/Shanghai")


def hot_day_ac_kw(local: datetime) -> float:
    """The demo office's AC on a hot July day, kW: off at night, a start peak at 08:30,
    a plateau rising to the 14:00–16:00 peak, off at 18:30."""
    h = local.hour + local.minute / 60 + local.second / 3600
    if h < 7.5 or h > 18.5:
        return 8.0  # servers, lighting, standby
    start = 30.0 * math.exp(-((h - 8.6) / 0.4) ** 2)
    plateau = 45.0 + 25.0 * math.exp(-((h - 15.0) / 2.0) ** 2)
    return 8.0 + plateau + start


#: the meter's window: only its integration is used (the AC load here is a curve, not shed)
DEADBAND_KW = 2.0


def meter_config(limit_kw: float) -> DemandConfig:
    return DemandConfig(
        meter="main", point="active_power_kw", limit_kw=limit_kw, deadband_kw=DEADBAND_KW,
        window_s=900.0, offset_s=0.0, confirm_s=60.0, pass_interval_s=60.0,
        max_units_per_pass=2, curtail_min_s=300.0, release_interval_s=120.0,
        release_units=1, relief_k=(1.0,), allow_off=True, futility_min_drop_kw=0.5,
        futility_passes=3, release_estimate_kw=1.0, meter_stale_s=600.0, classes={})


def charging_config(n_ac: int = 18, n_dc: int = 2, **over: Any) -> ChargingConfig:
    chargers: dict[str, Any] = {}
    for i in range(n_ac):
        chargers[f"AC{i + 1:02d}"] = {"ac": {"phases": 3, "max_current_a": 16},
                                      "circuit": "ac-row", "connectors": 1}
    for i in range(n_dc):
        chargers[f"DC{i + 1:02d}"] = {"dc": {"max_power_kw": 60, "min_power_kw": 5},
                                      "circuit": "dc-feeder"}
    base: dict[str, Any] = {
        "limit_kw": 200, "margin_kw": 8, "failsafe_kw": 60, "cycle_s": 30, "failsafe_after_s": 120,
        "ramp_kw_per_cycle": 11, "meter_interval_s": 30, "host": "127.0.0.1",
        "circuits": {"carpark": {"max_kw": 160},
                     "ac-row": {"max_kw": 100, "parent": "carpark"},
                     "dc-feeder": {"max_kw": 100, "parent": "carpark"}},
        "chargers": chargers}
    base.update(over)
    return ChargingConfig.model_validate(base)


class World:
    def __init__(self, cfg: ChargingConfig, clock: Clock,
                 ac_kw: Callable[[datetime], float] = hot_day_ac_kw):
        self.cfg = cfg
        self.clock = clock
        self.ac_kw = ac_kw
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ocpp"
        self.cs = CentralSystem(cfg, clock, source="test-site.yaml")
        assert cfg.limit_kw is not None
        self.meter = DemandController(meter_config(cfg.limit_kw))
        self.supervisor = ChargingSupervisor(self.cs, cfg, clock, self.meter, cfg.limit_kw)
        self.fleet: Fleet | None = None
        self.site_kw = 0.0
        self._tasks: list[asyncio.Task[Any]] = []

    def local(self) -> datetime:
        return self.clock.now().astimezone(TZ)

    def read_meter(self) -> None:
        self.site_kw = self.ac_kw(self.local()) + (self.fleet.draw_kw if self.fleet else 0.0)
        self.meter.observe(self.clock.now().timestamp(), self.site_kw)

    async def _meter_loop(self, every_s: float) -> None:
        while True:
            self.read_meter()
            await self.clock.sleep(every_s)

    async def start(self, fleet: Fleet | None = None, meter_every_s: float = 5.0) -> None:
        self.server = await self.cs.serve(port=self.port)
        self.fleet = fleet
        self.read_meter()
        self._tasks.append(asyncio.ensure_future(self._meter_loop(meter_every_s)))
        self._tasks.append(asyncio.ensure_future(self.supervisor.run()))
        if fleet is not None:
            fleet.start()

    async def stop(self) -> None:
        await stop_car_park(self.fleet, self._tasks, self.cs, self.server)


async def stop_car_park(fleet: Fleet | None, tasks: Sequence[asyncio.Future[Any]],
                        cs: CentralSystem, server: Any) -> None:
    """The simulated chargers first, then the loops, then the central system's server."""
    if fleet is not None:
        await fleet.stop()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await cs.close()
    server.close()
    await server.wait_closed()


def scaled_clock(local: str, speed: float) -> ScaledClock:
    return ScaledClock(datetime.fromisoformat(local).replace(tzinfo=TZ), speed)


@contextlib.asynccontextmanager
async def running(world: World, fleet: Fleet | None = None) -> AsyncIterator[World]:
    await world.start(fleet)
    try:
        yield world
    finally:
        await world.stop()


async def until(clock: Clock, what: Callable[[], bool], within_s: float,
                step_s: float = 1.0) -> bool:
    """Poll a condition on the (scaled) clock; True as soon as it holds."""
    end = clock.monotonic() + within_s
    while clock.monotonic() < end:
        if what():
            return True
        await clock.sleep(step_s)
    return what()


def at(local: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=TZ)


ONE_DAY = timedelta(days=1)
