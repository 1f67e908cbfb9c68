"""Pure physics of the device simulators: weather, rooms, occupancy, AC units,
meters and the building that ties them together. No I/O beyond reading weather
files, no wall clock: the caller passes time in.
"""

from simulators.physics.ac_unit import (
    FAN_CAPACITY_FACTOR,
    AcMode,
    AcUnit,
    AcUnitParams,
    FanSpeed,
    UnitKind,
    cooling_cop,
    heating_cop,
    inverter_cop_ratio,
)
from simulators.physics.building import (
    Building,
    BuildingSpec,
    RoomSpec,
    SimRoom,
    UnitSpec,
    initial_room_temp_c,
    resolve_weather,
)
from simulators.physics.meters import EnergyMeter, MeterParams, WaterMeter
from simulators.physics.occupancy import (
    PROFILES,
    SENSIBLE_W_PER_PERSON,
    DayKind,
    OccupancyProfile,
    RoomOccupancy,
    occupancy_fraction,
    profile_for,
)
from simulators.physics.occupant_reaction import OccupantReaction, RoomReaction
from simulators.physics.room import Room, RoomParams, RoomState
from simulators.physics.weather import (
    WeatherDay,
    WeatherFileError,
    WeatherSample,
    bundled_weather,
    bundled_weather_names,
    load_weather,
    parse_weather,
)

__all__ = [
    "FAN_CAPACITY_FACTOR",
    "PROFILES",
    "SENSIBLE_W_PER_PERSON",
    "AcMode",
    "AcUnit",
    "AcUnitParams",
    "Building",
    "BuildingSpec",
    "DayKind",
    "EnergyMeter",
    "FanSpeed",
    "MeterParams",
    "OccupancyProfile",
    "OccupantReaction",
    "Room",
    "RoomOccupancy",
    "RoomParams",
    "RoomReaction",
    "RoomSpec",
    "RoomState",
    "SimRoom",
    "UnitKind",
    "UnitSpec",
    "WaterMeter",
    "WeatherDay",
    "WeatherFileError",
    "WeatherSample",
    "bundled_weather",
    "bundled_weather_names",
    "cooling_cop",
    "heating_cop",
    "initial_room_temp_c",
    "inverter_cop_ratio",
    "load_weather",
    "occupancy_fraction",
    "parse_weather",
    "profile_for",
    "resolve_weather",
]
