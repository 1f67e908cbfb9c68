"""The simulator's part of a site file: the ``simulation`` section and each device's ``simulate``.

The gateway never reads these; they are validated here, with the same
``file:line: field: message`` errors as the rest of the site file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.core.site import Site
from gateway.core.sourcefile import ConfigError, Problem
from simulators.modbus.faults import FaultKind
from simulators.physics.occupant_reaction import OccupantReaction


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaultConfig(_Strict):
    kind: FaultKind = "none"
    code: int | None = Field(None, ge=1, le=255)
    delay_ms: float | None = Field(None, ge=0)
    duration_s: float | None = Field(None, gt=0)


class RoomConfig(_Strict):
    kind: Literal["office", "meeting", "classroom", "lab", "library", "ward", "nurse-station",
                  "operating", "public", "store", "server"] = "office"
    floor_area_m2: float = Field(30.0, gt=0, le=10_000)
    occupants: float | None = Field(None, ge=0)
    floor: str | None = None


class OccupantRemoteConfig(_Strict):
    """Occupants switch their room's AC on when too warm or cold (see
    simulators/physics/occupant_reaction.py)."""

    enabled: bool = True
    hot_c: float = Field(28.5, ge=20, le=40)
    cold_c: float = Field(17.5, ge=5, le=24)
    patience_min: float = Field(10.0, ge=0, le=240)

    @model_validator(mode="after")
    def _valid_reaction(self) -> OccupantRemoteConfig:
        self.reaction()  # the physics' own checks, reported with file and line
        return self

    def reaction(self) -> OccupantReaction | None:
        if not self.enabled:
            return None
        return OccupantReaction(self.hot_c, self.cold_c, self.patience_min * 60.0)


class ControlEndpoint(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)


class SimulationConfig(_Strict):
    seed: int = 0
    #: simulated start, local time of the site (naive) or with an offset
    start: datetime | None = None
    #: simulated seconds per wall-clock second
    speed: float = Field(1.0, gt=0, le=3600)
    #: physics step in simulated seconds
    step_s: float = Field(10.0, gt=0, le=600)
    weather: str = "wuhan-summer-hot"
    day_kind: Literal["auto", "workday", "off_day"] = "auto"
    base_load_w_m2: float = Field(3.0, ge=0)
    water_l_per_person_hour: float = Field(6.0, ge=0)
    initial_temp_c: float | None = None
    occupant_remote: OccupantRemoteConfig = OccupantRemoteConfig()
    #: emulate wire time on serial links (RTU, RTU over TCP)
    wire_time: bool = True
    #: JSON-lines control channel (faults, state) on loopback
    control: ControlEndpoint = ControlEndpoint()
    rooms: dict[str, RoomConfig] = {}


class DeviceSimulation(_Strict):
    """What physics object backs a device."""

    #: meters: which meter of the building this device shows
    meter: Literal["main", "ac", "water", "heat"] | None = None
    #: AC units: the room they condition, and the unit's physics
    room: str | None = None
    unit_kind: Literal["fixed", "inverter"] = "inverter"
    rated_cooling_kw: float = Field(3.5, gt=0, le=100)
    power: bool = False  # YAML on/off, true/false
    mode: Literal["cool", "heat", "fan", "dry", "auto"] = "cool"
    setpoint_c: float = Field(26.0, ge=10, le=35)
    fan: Literal["auto", "low", "medium", "high"] = "auto"
    #: device turnaround on the wire (default: the profile's)
    turnaround_ms: float | None = Field(None, ge=0)
    fault: FaultConfig = FaultConfig()


class SiteSimulation:
    """The simulator's validated view of a site."""

    def __init__(self, site: Site, config: SimulationConfig,
                 devices: dict[str, DeviceSimulation]):
        self.site = site
        self.config = config
        self.devices = devices


def load_simulation(site: Site) -> SiteSimulation:
    """Validate the simulator sections of a loaded site; raises ConfigError."""
    doc = site.doc
    raw: Any = site.spec.simulation or {}
    problems: list[Problem] = []
    try:
        config = doc.validate(SimulationConfig, raw, ("simulation",))
    except ConfigError as exc:
        problems.extend(exc.problems)
        config = SimulationConfig()
    devices: dict[str, DeviceSimulation] = {}
    for dev_id, dev in site.devices.items():
        at = ("devices", dev_id, "simulate")
        try:
            sim = doc.validate(DeviceSimulation, dev.config.simulate or {}, at)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        kind = dev.profile.kind
        if kind == "hvac":
            if sim.room is None:
                problems.append(doc.problem((*at, "room"),
                                            "an AC unit needs the room it conditions"))
            elif sim.room not in config.rooms:
                problems.append(doc.problem((*at, "room"),
                                            f"no room '{sim.room}' in simulation.rooms"))
        elif kind == "meter" and sim.meter not in ("main", "ac"):
            problems.append(doc.problem((*at, "meter"), "an electricity meter shows the "
                                        "'main' meter or the 'ac' sub-meter"))
        elif kind == "water" and sim.meter not in ("water", "heat"):
            problems.append(doc.problem((*at, "meter"), "a water meter shows meter: water, a "
                                        "heat meter meter: heat"))
        devices[dev_id] = sim
    if problems:
        raise ConfigError(problems)
    return SiteSimulation(site, config, devices)
