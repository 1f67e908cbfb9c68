"""The site's physics behind its devices: builds the Building from the site file and
moves values between it and the devices' registers.

Meters and AC units show standard point values (the semantic model); the
profile of each device turns them into its own registers. Writes that arrive
over Modbus (on/off, mode, setpoint, fan) are handed to the AC unit.
"""

from __future__ import annotations

import math
from datetime import datetime

from gateway.core.profile import Value
from gateway.core.semantics import FAN_CODES, MODE_CODES
from simulators.meters.heat import HeatMeterPhysics
from simulators.meters.memory import MeterMemory
from simulators.physics import (
    Building,
    BuildingSpec,
    DayKind,
    EnergyMeter,
    RoomSpec,
    UnitSpec,
    WeatherDay,
)
from simulators.sim_config import SiteSimulation
from simulators.unit_memory import ProfileMemory
from simulators.wallbox import Wallbox

_MODE_NAMES = {code: name for name, code in MODE_CODES.items()}
_FAN_NAMES = {code: name for name, code in FAN_CODES.items()}
#: fan speeds the physics does not model, mapped to the nearest it does
_FAN_PHYSICS = {"top": "high", "very_low": "low"}
SQRT3 = math.sqrt(3.0)


def build_building(sim: SiteSimulation, weather: WeatherDay | None = None) -> Building:
    """The site's building; ``weather`` beats the simulation's named one."""
    units_by_room: dict[str, list[UnitSpec]] = {}
    for dev_id, dev in sim.devices.items():
        if dev.room is None:
            continue
        units_by_room.setdefault(dev.room, []).append(UnitSpec(
            id=dev_id, kind=dev.unit_kind, rated_cooling_kw=dev.rated_cooling_kw,
            power=dev.power, mode=dev.mode, setpoint_c=dev.setpoint_c, fan=dev.fan))
    cfg = sim.config
    rooms = [RoomSpec(id=room_id, kind=room.kind, floor_area_m2=room.floor_area_m2,
                      occupants=room.occupants, units=tuple(units_by_room.get(room_id, ())))
             for room_id, room in cfg.rooms.items()]
    meters = {d.meter for d in sim.devices.values()}
    spec = BuildingSpec(rooms=rooms, base_load_w_m2=cfg.base_load_w_m2, weather=cfg.weather,
                        ac_submeter="ac" in meters, water_meter="water" in meters,
                        water_l_per_person_hour=cfg.water_l_per_person_hour,
                        initial_temp_c=cfg.initial_temp_c, seed=cfg.seed,
                        occupant_reaction=cfg.occupant_remote.reaction())
    return Building(spec, weather)


def _meter_values(meter: EnergyMeter) -> dict[str, float]:
    """Everything a meter profile may ask for, derived from the physics meter."""
    values = meter.readings()
    v = meter.voltage_v
    pf = meter.power_factor
    total_kva = values["apparent_power_kva"]
    for i, ph in enumerate(("l1", "l2", "l3")):
        p = meter.phase_power_kw[i]
        s = p / pf if pf else 0.0
        values[f"apparent_power_{ph}_kva"] = s
        values[f"reactive_power_{ph}_kvar"] = math.sqrt(max(s * s - p * p, 0.0))
        values[f"power_factor_{ph}"] = pf
        values[f"thd_voltage_{ph}_pct"] = 1.8
        values[f"thd_current_{ph}_pct"] = 9.5
    values["voltage_l12_v"] = SQRT3 * (v[0] + v[1]) / 2
    values["voltage_l23_v"] = SQRT3 * (v[1] + v[2]) / 2
    values["voltage_l31_v"] = SQRT3 * (v[2] + v[0]) / 2
    values["voltage_avg_v"] = sum(v) / 3
    values["current_avg_a"] = sum(meter.current_a) / 3
    values["current_n_a"] = 0.05 * values["current_avg_a"]
    values["demand_kw"] = values["active_power_kw"]
    values["max_demand_kw"] = values["active_power_kw"]
    values["reactive_energy_import_kvarh"] = values["energy_import_kwh"] * 0.33
    values["reactive_energy_export_kvarh"] = 0.0
    values["ct_ratio"] = 1.0
    values["pt_ratio"] = 1.0
    del total_kva
    return values


class SitePhysics:
    """The building, plus the binding of each device id to its memory block."""

    def __init__(self, sim: SiteSimulation, weather: WeatherDay | None = None):
        self.sim = sim
        self.building = build_building(sim, weather)
        #: device id → memory holding its block
        self.memories: dict[str, ProfileMemory | MeterMemory] = {}
        #: heat meters: each on a heating loop of its own, following the weather
        self.heat_meters = {dev_id: HeatMeterPhysics() for dev_id, dev in sim.devices.items()
                            if dev.meter == "heat"}
        #: Modbus wall boxes of the car park, by device id (the runner adds them)
        self.wallboxes: dict[str, Wallbox] = {}

    def bind(self, device_id: str, memory: ProfileMemory | MeterMemory) -> None:
        self.memories[device_id] = memory
        memory.on_write = self.apply_write

    def step(self, dt_s: float, local_time: datetime, day_kind: DayKind) -> None:
        self.building.step(dt_s, local_time, day_kind)
        for heat in self.heat_meters.values():
            heat.step(dt_s, self.building.outdoor_temp_c)

    def device_values(self, device_id: str) -> dict[str, Value]:
        """Standard values of one device, as its physics shows them now."""
        b = self.building
        dev = self.sim.devices[device_id]
        if dev.meter == "main":
            return dict(_meter_values(b.main_meter))
        if dev.meter == "ac" and b.ac_meter is not None:
            return dict(_meter_values(b.ac_meter))
        if dev.meter == "water" and b.water_meter is not None:
            w = b.water_meter
            return {"volume_m3": w.volume_m3, "flow_m3_h": w.flow_l_min * 0.06,
                    "water_temp_c": 18.0}
        if dev.meter == "heat":
            return dict(self.heat_meters[device_id].readings())
        if device_id in self.wallboxes:
            return self.wallboxes[device_id].values()
        unit = b.units.get(device_id)
        if unit is None:
            return {}
        fan = str(unit.fan)
        return {
            "power": 1 if unit.power else 0,
            "mode": MODE_CODES[str(unit.mode)],
            "setpoint_c": round(unit.setpoint_c, 1),
            "fan": FAN_CODES[fan],
            "room_temp_c": round(unit.room_temp_c, 1),
            "power_kw": unit.power_kw,
            "energy_kwh": unit.energy_kwh,
            "error_code": 0,
            "filter_alarm": 0,
            "pipe_in_temp_c": 8.0 if unit.compressor_on else round(unit.room_temp_c, 1),
            "pipe_out_temp_c": 40.0 if unit.compressor_on else round(unit.room_temp_c, 1),
            "remote_lock": 0,
        }

    def sync(self) -> None:
        """Lay every device's current values into its registers."""
        for device_id, memory in self.memories.items():
            for name, value in self.device_values(device_id).items():
                if memory.has_point(device_id, name):
                    memory.set(device_id, name, value)

    def apply_write(self, device_id: str, name: str, value: Value) -> None:
        """A Modbus write reached the device: command the AC unit or the wall box."""
        if device_id in self.wallboxes:
            # its registers show what the box holds: a write it did not take reads back
            # as the old value
            self.wallboxes[device_id].write(name, value)
            memory = self.memories[device_id]
            for point, now in self.wallboxes[device_id].values().items():
                if memory.has_point(device_id, point):
                    memory.set(device_id, point, now)
            return
        unit = self.building.units.get(device_id)
        if unit is None or isinstance(value, str):
            return
        if name == "power":
            unit.command(power=bool(value))
        elif name == "mode":
            unit.command(mode=_MODE_NAMES[int(value)])
        elif name == "fan":
            label = _FAN_NAMES[int(value)]
            unit.command(fan=_FAN_PHYSICS.get(label, label))
        elif name == "setpoint_c":
            unit.command(setpoint_c=float(value))
