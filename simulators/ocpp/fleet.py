"""A car park of simulated charge points built from the site file, and the day's cars.

Each declared charger becomes a ``SimChargePoint``; its ``simulate`` block may set
faults (``smart: false``, ``reject_profiles``, ``stuck_meter``, ``apply_delay_s``,
``forgets_offline``). Cars come from a seeded schedule: commuters who arrive in the
morning and stay the working day, and short visits.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterable
from typing import Any

from gateway.core.chargers import ChargerConfig, ChargingConfig
from gateway.core.clock import Clock
from simulators.ocpp.charge_point import SimChargePoint, SimChargerSpec
from simulators.ocpp.ev import Vehicle

_FAULTS = ("smart", "reject_profiles", "stuck_meter", "apply_delay_s", "forgets_offline",
           "forgets_on_reboot")
#: ``simulate.car``: one given car per connector instead of the seeded day
_CAR_KEYS = ("arrive_s", "stay_h", "kwh")


def sim_spec(cid: str, cfg: ChargerConfig, tick_s: float = 5.0) -> SimChargerSpec:
    spec = SimChargerSpec(id=cid, connectors=cfg.connectors, rated_kw=cfg.max_kw,
                          phases=cfg.ac.phases if cfg.ac is not None else None,
                          password=cfg.password, tick_s=tick_s)
    for key, value in (cfg.simulate or {}).items():
        if key == "car":
            continue
        if key not in _FAULTS:
            raise ValueError(f"charger {cid}: simulate.{key} is not one of {', '.join(_FAULTS)}")
        setattr(spec, key, type(getattr(spec, key))(value))
    return spec


def day_of_cars(rng: random.Random, cid: str, cfg: ChargerConfig, start_s: float,
                first_arrival_h: float) -> dict[int, list[Vehicle]]:
    """One car per connector: most commuters (arrive within 1.5 h of the first arrival,
    stay 4–9 h), a quarter short visits (1–2.5 h, later in the day). A commuter tops up
    8–30 kWh (a week's commute), a visitor at a DC charger 20–45 kWh. Times in seconds
    from the clock's zero; ``start_s`` is the clock's zero as a local time of day."""
    out: dict[int, list[Vehicle]] = {}
    for n in range(1, cfg.connectors + 1):
        commuter = rng.random() < 0.75
        arrive_h = first_arrival_h + rng.uniform(0, 1.5) if commuter \
            else first_arrival_h + rng.uniform(2, 6)
        stay_h = rng.uniform(4, 9) if commuter else rng.uniform(1, 2.5)
        battery = rng.choice([50.0, 60.0, 75.0])
        target = rng.choice([0.8, 0.9, 1.0])
        wanted = rng.uniform(8, 30) if cfg.ac is not None else rng.uniform(20, 45)
        car_kw = min(cfg.max_kw, 11.0 if cfg.ac is not None else rng.choice([60.0, 100.0]))
        arrive = arrive_h * 3600 - start_s
        out[n] = [Vehicle(id_tag=f"{cid}-{n}", battery_kwh=battery,
                          soc=max(0.05, target - wanted / battery), target_soc=target,
                          max_kw=car_kw, arrive_s=arrive, leave_s=arrive + stay_h * 3600)]
    return out


def given_car(cid: str, cfg: ChargerConfig) -> dict[int, list[Vehicle]] | None:
    """``simulate: {car: {arrive_s, stay_h, kwh}}``: that car at every connector."""
    spec = (cfg.simulate or {}).get("car")
    if spec is None:
        return None
    if not isinstance(spec, dict) or set(spec) - set(_CAR_KEYS):
        raise ValueError(f"charger {cid}: simulate.car takes {', '.join(_CAR_KEYS)}")
    arrive = float(spec.get("arrive_s", 0.0))
    stay_h = float(spec.get("stay_h", 8.0))
    kwh = float(spec.get("kwh", 20.0))
    car_kw = min(cfg.max_kw, 11.0 if cfg.ac is not None else 100.0)
    return {n: [Vehicle(id_tag=f"{cid}-{n}", battery_kwh=75.0, soc=max(0.05, 0.9 - kwh / 75),
                        target_soc=0.9, max_kw=car_kw, arrive_s=arrive,
                        leave_s=arrive + stay_h * 3600)]
            for n in range(1, cfg.connectors + 1)}


def cars_for(rng: random.Random, cid: str, cfg: ChargerConfig, start_s: float,
             first_arrival_h: float) -> dict[int, list[Vehicle]]:
    """The charger's given car, or its share of the seeded day."""
    return given_car(cid, cfg) or day_of_cars(rng, cid, cfg, start_s, first_arrival_h)


class Fleet:
    def __init__(self, chargers: Iterable[SimChargePoint]):
        self.chargers = {cp.spec.id: cp for cp in chargers}
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_site(cls, cfg: ChargingConfig, url: str, clock: Clock, seed: int = 17,
                  start_s: float = 7 * 3600, first_arrival_h: float = 8.0,
                  tick_s: float = 5.0) -> Fleet:
        """The OCPP chargers of the site (Modbus ones are devices: simulators/wallbox.py)."""
        rng = random.Random(seed)
        return cls(SimChargePoint(sim_spec(cid, c, tick_s), url, clock,
                                  cars_for(rng, cid, c, start_s, first_arrival_h))
                   for cid, c in cfg.chargers.items() if c.modbus is None)

    @property
    def draw_kw(self) -> float:
        return sum(cp.draw_kw for cp in self.chargers.values())

    def cars(self) -> list[Vehicle]:
        out: list[Vehicle] = []
        for cp in self.chargers.values():
            for conn in cp.connectors.values():
                out.extend(conn.done)
                if conn.car is not None:
                    out.append(conn.car)
        return out

    def departed(self) -> list[Vehicle]:
        return [car for cp in self.chargers.values() for conn in cp.connectors.values()
                for car in conn.done]

    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(cp.run()) for cp in self.chargers.values()]

    async def connected(self) -> None:
        await asyncio.gather(*(cp.connected.wait() for cp in self.chargers.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(cp.stop() for cp in self.chargers.values()),
                             return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def __getitem__(self, cid: str) -> SimChargePoint:
        return self.chargers[cid]

    def stats(self) -> dict[str, Any]:
        return {"messages_sent": sum(cp.sent for cp in self.chargers.values())}
