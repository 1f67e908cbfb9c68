"""A building: rooms with AC units, non-HVAC loads, and the meters that see them.

Build it from plain data (:class:`BuildingSpec`), then call :meth:`Building.step`
with the local time and the day kind; the caller owns the clock and the
calendar. Every random stream is seeded from ``BuildingSpec.seed`` and the
component's id, so adding a room does not change the noise of the others.

Electricity: the main meter sees AC power + the rooms' equipment and lighting +
a common-area load (corridors, lifts, pumps); the optional AC sub-meter sees
the AC units only. Water: flow follows the number of people present.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from simulators.physics.ac_unit import AcMode, AcUnit, AcUnitParams, FanSpeed, UnitKind
from simulators.physics.meters import EnergyMeter, MeterParams, WaterMeter
from simulators.physics.occupancy import DayKind, RoomOccupancy, profile_for
from simulators.physics.occupant_reaction import OccupantReaction, RoomReaction
from simulators.physics.room import MAX_SUBSTEP_S, Room, RoomParams, RoomState
from simulators.physics.weather import (
    SECONDS_PER_DAY,
    WeatherDay,
    bundled_weather,
    load_weather,
)

#: heat carried by 1 m³/h of outdoor air per kelvin: ρ 1.2 kg/m³ × c_p 1005 J/(kg·K) / 3600 s
AIR_W_K_PER_M3_H = 1.2 * 1005.0 / 3600.0


@dataclass(frozen=True)
class UnitSpec:
    """An AC unit. Capacities kW; setpoint °C. ``rated_heating_kw`` None: 1.2 × cooling."""

    id: str
    kind: UnitKind | str = UnitKind.INVERTER
    rated_cooling_kw: float = 3.5
    rated_heating_kw: float | None = None
    rated_eer: float | None = None
    rated_cop: float | None = None
    power: bool = False
    mode: AcMode | str = AcMode.COOL
    setpoint_c: float = 26.0
    fan: FanSpeed | str = FanSpeed.AUTO
    sensor_noise_k: float = 0.1


@dataclass(frozen=True)
class RoomSpec:
    """A room of a kind from ``occupancy.PROFILES`` ('office', 'meeting', 'classroom', …).

    ``occupants`` None: from the kind's density. ``constant_gain_w`` None: the
    kind's always-on load (a server room's IT load). ``params`` None: the
    reference office scaled to ``floor_area_m2``; if given, its floor area must
    match ``floor_area_m2``.
    """

    id: str
    kind: str = "office"
    floor_area_m2: float = 30.0
    occupants: float | None = None
    units: Sequence[UnitSpec] = ()
    constant_gain_w: float | None = None
    params: RoomParams | None = None


@dataclass(frozen=True)
class BuildingSpec:
    """The whole site's physics.

    ``base_load_w_m2``: common-area electrical load per m² of room floor at
    full occupancy, ``base_load_night_fraction`` of it when nobody is in.
    ``weather``: a bundled name or a CSV path. ``initial_temp_c`` None: see
    :func:`initial_room_temp_c`. Water: litres per present person per hour,
    plus a constant background flow (cisterns, leaks) in L/min.
    """

    rooms: Sequence[RoomSpec]
    base_load_w_m2: float = 3.0
    base_load_night_fraction: float = 0.3
    weather: str = "wuhan-summer-hot"
    ac_submeter: bool = True
    water_meter: bool = True
    water_l_per_person_hour: float = 6.0
    water_background_l_min: float = 0.05
    initial_temp_c: float | None = None
    seed: int = 0
    meter: MeterParams = field(default_factory=MeterParams)
    occupant_reaction: OccupantReaction | None = field(default_factory=OccupantReaction)


def initial_room_temp_c(weather: WeatherDay) -> float:
    """Morning room temperature: halfway between the day's mean outdoor
    temperature and the comfort band 20–26 °C (a building conditioned the day
    before and floating overnight): ~29 °C on the hot summer day, ~11 °C on
    the cold winter day.
    """
    mean = weather.mean_temp_c
    comfort = min(max(mean, 20.0), 26.0)
    return mean + 0.5 * (comfort - mean)


def resolve_weather(name_or_path: str) -> WeatherDay:
    """A bundled weather name, or a path to a weather CSV file."""
    if name_or_path.endswith(".csv") or "/" in name_or_path:
        return load_weather(Path(name_or_path))
    return bundled_weather(name_or_path)


class SimRoom:
    """A room in the building: thermal model, occupancy and its AC units."""

    __slots__ = ("id", "kind", "occupancy", "reaction", "spec", "thermal", "units")

    def __init__(
        self, spec: RoomSpec, thermal: Room, occupancy: RoomOccupancy, units: tuple[AcUnit, ...],
        reaction: RoomReaction | None = None,
    ) -> None:
        self.id = spec.id
        self.kind = spec.kind
        self.spec = spec
        self.thermal = thermal
        self.occupancy = occupancy
        self.units = units
        self.reaction = reaction

    @property
    def t_air_c(self) -> float:
        return self.thermal.state.t_air_c

    @property
    def t_mass_c(self) -> float:
        return self.thermal.state.t_mass_c

    @property
    def floor_area_m2(self) -> float:
        return self.thermal.params.floor_area_m2


def _make_unit(spec: UnitSpec, rng: random.Random, room_temp_c: float) -> AcUnit:
    params = AcUnitParams(
        kind=UnitKind(spec.kind),
        rated_cooling_kw=spec.rated_cooling_kw,
        rated_heating_kw=(
            spec.rated_heating_kw
            if spec.rated_heating_kw is not None
            else 1.2 * spec.rated_cooling_kw
        ),
        rated_eer=spec.rated_eer,
        rated_cop=spec.rated_cop,
        sensor_noise_k=spec.sensor_noise_k,
    )
    return AcUnit(
        spec.id,
        params,
        rng,
        power=spec.power,
        mode=spec.mode,
        setpoint_c=spec.setpoint_c,
        fan=spec.fan,
        room_temp_c=room_temp_c,
    )


class Building:
    """Rooms, AC units and meters advanced together by :meth:`step`.

    After a step: ``outdoor_temp_c`` (°C), ``solar_w_m2`` (W/m²),
    ``ac_power_kw``, ``base_load_kw`` (all non-HVAC), ``total_power_kw``,
    ``people_present``; rooms via ``rooms[id]`` (``t_air_c``, ``t_mass_c``),
    units via ``units[id]``, meters ``main_meter``, ``ac_meter``, ``water_meter``.
    """

    def __init__(self, spec: BuildingSpec, weather: WeatherDay | None = None) -> None:
        if not spec.rooms:
            raise ValueError("a building needs at least one room")
        self.spec = spec
        self.weather = weather if weather is not None else resolve_weather(spec.weather)
        seed = spec.seed
        t0 = (
            spec.initial_temp_c
            if spec.initial_temp_c is not None
            else initial_room_temp_c(self.weather)
        )
        self.rooms: dict[str, SimRoom] = {}
        self.units: dict[str, AcUnit] = {}
        for rs in spec.rooms:
            if rs.id in self.rooms:
                raise ValueError(f"duplicate room id {rs.id!r}")
            profile = profile_for(rs.kind)
            params = rs.params or RoomParams.for_floor_area(rs.floor_area_m2)
            if params.floor_area_m2 != rs.floor_area_m2:
                raise ValueError(
                    f"room {rs.id!r}: floor_area_m2 {rs.floor_area_m2} differs from its "
                    f"params' {params.floor_area_m2}"
                )
            occupants = rs.occupants
            if occupants is None:
                occupants = (
                    round(params.floor_area_m2 / profile.m2_per_person)
                    if profile.m2_per_person > 0
                    else 0.0
                )
            occupancy = RoomOccupancy(
                profile, params.floor_area_m2, occupants, f"{seed}/room/{rs.id}", rs.constant_gain_w
            )
            units: list[AcUnit] = []
            for us in rs.units:
                if us.id in self.units:
                    raise ValueError(f"duplicate unit id {us.id!r}")
                unit = _make_unit(us, random.Random(f"{seed}/unit/{us.id}"), t0)
                self.units[us.id] = unit
                units.append(unit)
            thermal = Room(params, RoomState(t0, t0))
            reaction = (
                RoomReaction(spec.occupant_reaction)
                if spec.occupant_reaction is not None and units and occupants > 0
                else None
            )
            self.rooms[rs.id] = SimRoom(rs, thermal, occupancy, tuple(units), reaction)
        self._room_list = list(self.rooms.values())
        self.floor_area_m2 = sum(r.floor_area_m2 for r in self._room_list)
        self.occupants = sum(r.occupancy.occupants for r in self._room_list)
        self._base_full_w = spec.base_load_w_m2 * self.floor_area_m2
        self.main_meter = EnergyMeter("main", spec.meter, random.Random(f"{seed}/meter/main"))
        self.ac_meter = (
            EnergyMeter("ac", spec.meter, random.Random(f"{seed}/meter/ac"))
            if spec.ac_submeter
            else None
        )
        self.water_meter = WaterMeter("water") if spec.water_meter else None
        self._water_rng = random.Random(f"{seed}/water")
        self.outdoor_temp_c, self.solar_w_m2 = self.weather.at(0.0)
        self.ac_power_kw = 0.0
        self.base_load_kw = 0.0
        #: metered load this model does not simulate (the car park's chargers), kW: set by
        #: whoever runs it, counted on the main meter
        self.other_load_kw = 0.0
        self.total_power_kw = 0.0
        self.people_present = 0.0

    def step(self, dt_s: float, local_time: datetime, day_kind: DayKind) -> None:
        """Advance ``dt_s`` seconds starting at ``local_time`` (site wall-clock time).

        Steps longer than 60 s are split so that thermostats act at least once
        a minute. ``day_kind`` applies to the whole step.
        """
        if dt_s < 0:
            raise ValueError(f"dt_s must be >= 0, got {dt_s}")
        if dt_s == 0:
            return
        n = 1 if dt_s <= MAX_SUBSTEP_S else math.ceil(dt_s / MAX_SUBSTEP_S)
        h = dt_s / n
        seconds = (
            local_time.hour * 3600
            + local_time.minute * 60
            + local_time.second
            + local_time.microsecond * 1e-6
        )
        ordinal = local_time.toordinal()
        for _ in range(n):
            self._advance(h, seconds, ordinal, day_kind)
            seconds += h
            if seconds >= SECONDS_PER_DAY:
                seconds -= SECONDS_PER_DAY
                ordinal += 1

    def _advance(self, h: float, seconds: float, ordinal: int, day_kind: DayKind) -> None:
        t_out, solar = self.weather.at(seconds)
        self.outdoor_temp_c = t_out
        self.solar_w_m2 = solar
        ac_kw = 0.0
        room_elec_w = 0.0
        people = 0.0
        for room in self._room_list:
            occ = room.occupancy
            occ.update(seconds, ordinal, day_kind)
            thermal = room.thermal
            q_ac = 0.0
            if room.units:
                t_air = thermal.state.t_air_c
                if room.reaction is not None:
                    room.reaction.step(h, occ.people_present, t_air, room.units)
                for unit in room.units:
                    unit.step(h, t_air, t_out)
                    q_ac += unit.heat_extraction_w
                    ac_kw += unit.power_kw
            fresh = occ.profile.fresh_air_m3_h_per_person
            thermal.step(h, t_out, solar, occ.heat_gain_w, q_ac,
                         occ.people_present * fresh * AIR_W_K_PER_M3_H if fresh else 0.0)
            room_elec_w += occ.electric_w
            people += occ.people_present
        night = self.spec.base_load_night_fraction
        occupied = people / self.occupants if self.occupants > 0 else 0.0
        common_w = self._base_full_w * (night + (1.0 - night) * occupied)
        base_kw = (room_elec_w + common_w) / 1000.0
        self.ac_power_kw = ac_kw
        self.base_load_kw = base_kw
        self.total_power_kw = ac_kw + base_kw + self.other_load_kw
        self.people_present = people
        self.main_meter.step(h, self.total_power_kw)
        if self.ac_meter is not None:
            self.ac_meter.step(h, ac_kw)
        if self.water_meter is not None:
            spec = self.spec
            jitter = 0.5 + self._water_rng.random() if people > 0 else 1.0
            flow = people * spec.water_l_per_person_hour / 60.0 * jitter
            self.water_meter.step(h, flow + spec.water_background_l_min)

    @property
    def occupant_switch_ons(self) -> int:
        """Times occupants switched a room's units on, since the start."""
        return sum(r.reaction.switch_ons for r in self._room_list if r.reaction is not None)

    def room(self, room_id: str) -> SimRoom:
        return self.rooms[room_id]

    def unit(self, unit_id: str) -> AcUnit:
        return self.units[unit_id]
