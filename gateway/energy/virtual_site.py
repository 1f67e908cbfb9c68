"""A site on a virtual clock: the simulator's physics behind the devices, the real control
engine and the daemon's actuator in front — no sockets, no sleeping, no KPIs.

A step, as ``escogw run`` would see it:

1. ``read``: readings synthesised from the physics (``SitePhysics.device_values``), only
   the points of each polled device's profile, as the devices would report them;
2. ``control``: the engine's tick; its commands go through ``Actuator`` (the daemon's
   write path) to a ``PhysicsWriter``, and each outcome back to the engine
   (``note_outcome``: its retries and ``write:`` alarms);
3. ``advance``: the building moves on by the step.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control.actuator import Actuator
from gateway.control.engine import ControlEngine
from gateway.control.safety_guard import SafetyGuard
from gateway.control.state import Alarm, UnitCommand
from gateway.core.calendar import WORKING, SiteCalendar
from gateway.core.profile import Value
from gateway.core.site import Site
from gateway.energy.accounting import site_meters
from simulators.physics import Building, DayKind, WeatherDay
from simulators.sim_config import SiteSimulation
from simulators.site_physics import SitePhysics

#: points whose read-back is the unit's own state; others (fan: the physics keeps only the
#: nearest speed it models) read back as written, as the device's register would
UNIT_STATE_POINTS = frozenset({"power", "mode", "setpoint_c"})
#: the units show setpoints to 0.1 °C: a read-back this close is the value written
SHOWN_TO = 0.1


class PhysicsWriter:
    """The actuator's ``Writer`` for simulated units: a write commands the unit
    (``SitePhysics.apply_write``), the read-back is the unit's state; a seeded share
    ``failure`` of writes fails before reaching the unit. Writes take at once on the
    virtual clock, so no ``ttl_s`` expires."""

    def __init__(self, physics: SitePhysics, failure: float = 0.0, seed: int = 1):
        self.physics = physics
        self.failure = failure
        self.rng = random.Random(seed)

    async def write(self, device_id: str, point_name: str, value: Value, *,
                    ttl_s: float | None = None, verify: bool = True) -> WriteOutcome:
        if self.failure > 0 and self.rng.random() < self.failure:
            return WriteOutcome(False, "simulated write failure")
        self.physics.apply_write(device_id, point_name, value)
        if not verify:
            return WriteOutcome(True)
        shown = self.read_back(device_id, point_name, value)
        if not _took(shown, value):
            return WriteOutcome(False, f"read-back shows {shown}, wrote {value}", shown)
        return WriteOutcome(True, None, shown)

    def read_back(self, device_id: str, point_name: str, written: Value) -> Value:
        if point_name not in UNIT_STATE_POINTS or device_id not in self.physics.building.units:
            return written
        return self.physics.device_values(device_id)[point_name]


def _took(shown: Value, written: Value) -> bool:
    if isinstance(shown, str) or isinstance(written, str):
        return shown == written
    return abs(shown - written) < SHOWN_TO


@dataclass
class Actuation:
    """One tick's writes: the actuator's outcomes and the alarms the engine raised or
    cleared on hearing them; and the alarms its tick raised or cleared (demand, calendar)."""

    outcomes: list[tuple[UnitCommand, WriteOutcome]]
    alarms: list[Alarm]
    tick_alarms: list[Alarm]


class VirtualSite:
    def __init__(self, site: Site, engine: ControlEngine, sim: SiteSimulation, *,
                 write_failure: float = 0.0, seed: int = 1, weather: WeatherDay | None = None,
                 occupancy: SiteCalendar | None = None):
        """``seed`` drives only the simulated write failures (``sim`` has its own);
        ``weather`` beats the simulation's (the first day's, for a run over a series).
        ``occupancy``: the calendar whose working days bring the occupants in (default: the
        rule set's own). A comparison gives both runs the same one, or a closure that only
        one rule file declares would also empty only its building."""
        rules = engine.rules
        self.tz = site.tz
        self.engine = engine
        self.physics = SitePhysics(sim, weather)
        self.building: Building = self.physics.building
        self.writer = PhysicsWriter(self.physics, write_failure, seed)
        self.guard = SafetyGuard.for_rules(rules, {})
        self.actuator = Actuator(self.writer, self.guard)
        # what the gateway polls: the rule set's units, its demand meter, the energy meters
        polled = set(rules.units)
        if rules.demand is not None:
            polled.add(rules.demand.meter)
        polled.update(m.device for m in site_meters(site))
        self._points = {d: (frozenset(site.devices[d].profile.points)
                            if d in site.devices else None) for d in polled}
        self._outdoor = rules.outdoor
        self._occupancy = occupancy if occupancy is not None else rules.calendar
        self._day_kinds: dict[date, DayKind] = {}
        self.seq = 0

    def read(self, t: datetime) -> dict[str, Reading]:
        """Every polled device's reading at ``t``, and the outdoor temperature the rules
        name."""
        self.seq += 1
        out = {}
        for dev, allowed in self._points.items():
            values: dict[str, Value] = {k: v for k, v in self.physics.device_values(dev).items()
                                        if allowed is None or k in allowed}
            out[dev] = Reading(dev, t, self.seq, values)
        if self._outdoor is not None:
            ref = self._outdoor
            out[ref.device] = Reading(ref.device, t, self.seq,
                                      {ref.point: self.building.outdoor_temp_c})
        return out

    async def control(self, t: datetime, latest: Mapping[str, Reading]) -> Actuation:
        """One engine tick at ``t`` and its writes, as the daemon's control loop sends them."""
        result = self.engine.tick(t, latest)
        self.guard.latest = latest
        outcomes = await self.actuator.apply(result.commands)
        alarms = [a for cmd, outcome in outcomes
                  for a in self.engine.note_outcome(cmd, outcome, t)]
        return Actuation(outcomes, alarms, result.alarms)

    def advance(self, t: datetime, step_s: float) -> None:
        """The building from ``t`` to ``t + step_s``."""
        local = t.astimezone(self.tz)
        self.physics.step(step_s, local.replace(tzinfo=None), self._day_kind(local.date()))

    def _day_kind(self, d: date) -> DayKind:
        k = self._day_kinds.get(d)
        if k is None:
            working = self._occupancy.day(d).type in WORKING
            k = self._day_kinds[d] = DayKind.WORKDAY if working else DayKind.OFF_DAY
        return k
