"""The semantic model: standard point names shared by profiles, rules, historian and dashboards.

A profile maps a device's registers onto these names, so rules and dashboards
never see a raw address and a new AC brand needs a profile and nothing else.
Enumerated points (AC mode, fan speed) travel as the standard codes below,
whatever the brand's own register values are; the profile maps one onto the
other.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from typing import Literal

DeviceKind = Literal["meter", "hvac", "water", "charger"]
DEVICE_KINDS: tuple[DeviceKind, ...] = ("meter", "hvac", "water", "charger")

#: Standard codes of AC modes and fan speeds as they appear in readings and commands.
MODE_CODES: dict[str, int] = {"cool": 0, "heat": 1, "fan": 2, "dry": 3, "auto": 4}
FAN_CODES: dict[str, int] = {"auto": 0, "low": 1, "medium": 2, "high": 3, "top": 4,
                             "very_low": 5}
POWER_CODES: dict[str, int] = {"off": 0, "on": 1}
#: An AC charger's IEC 61851-1 state: A no vehicle, B vehicle connected, C charging,
#: E no supply, F charger unavailable; 1 the charger offers no current (no PWM), 2 it does.
CHARGE_STATE_CODES: dict[str, int] = {"a1": 0, "a2": 1, "b1": 2, "b2": 3, "c1": 4, "c2": 5,
                                      "derating": 6, "e": 7, "f": 8, "error": 9}


@dataclass(frozen=True)
class StandardPoint:
    name: str
    kinds: frozenset[DeviceKind]
    unit: str
    description: str
    #: Cumulative counter (energy, volume): checked for wrap-around and resets.
    counter: bool = False
    #: Standard codes for an enumerated point; a profile maps each to a raw value.
    codes: dict[str, int] | None = None


def _meter(name: str, unit: str, description: str, counter: bool = False) -> StandardPoint:
    return StandardPoint(name, frozenset({"meter"}), unit, description, counter)


def _phases(prefix: str, suffix: str, unit: str, what: str) -> list[StandardPoint]:
    return [_meter(f"{prefix}_{ph}_{suffix}".rstrip("_"), unit, f"{what}, {ph.upper()}")
            for ph in ("l1", "l2", "l3")]


#: meter points an AC charger's own meter shows too
_CHARGER_METERED = frozenset({"voltage_l1_v", "voltage_l2_v", "voltage_l3_v", "current_l1_a",
                              "current_l2_a", "current_l3_a", "active_power_kw",
                              "energy_import_kwh"})


def _also_chargers(points: list[StandardPoint]) -> list[StandardPoint]:
    return [StandardPoint(p.name, p.kinds | {"charger"}, p.unit, p.description, p.counter,
                          p.codes) if p.name in _CHARGER_METERED else p for p in points]


def _charger(name: str, unit: str, description: str,
             codes: dict[str, int] | None = None) -> StandardPoint:
    return StandardPoint(name, frozenset({"charger"}), unit, description, codes=codes)


_POINTS: list[StandardPoint] = _also_chargers([
    *_phases("voltage", "v", "V", "Phase-to-neutral voltage"),
    _meter("voltage_l12_v", "V", "Line-to-line voltage L1-L2"),
    _meter("voltage_l23_v", "V", "Line-to-line voltage L2-L3"),
    _meter("voltage_l31_v", "V", "Line-to-line voltage L3-L1"),
    _meter("voltage_avg_v", "V", "Average phase-to-neutral voltage"),
    *_phases("current", "a", "A", "Phase current"),
    _meter("current_n_a", "A", "Neutral current"),
    _meter("current_avg_a", "A", "Average phase current"),
    _meter("active_power_kw", "kW", "Total active power (import positive)"),
    *_phases("active_power", "kw", "kW", "Active power"),
    _meter("reactive_power_kvar", "kvar", "Total reactive power"),
    *_phases("reactive_power", "kvar", "kvar", "Reactive power"),
    _meter("apparent_power_kva", "kVA", "Total apparent power"),
    *_phases("apparent_power", "kva", "kVA", "Apparent power"),
    _meter("power_factor", "", "Total power factor"),
    *_phases("power_factor", "", "", "Power factor"),
    _meter("frequency_hz", "Hz", "Supply frequency"),
    _meter("demand_kw", "kW", "Active power demand over the meter's demand period"),
    _meter("max_demand_kw", "kW", "Maximum active power demand since reset"),
    _meter("energy_import_kwh", "kWh", "Imported active energy", counter=True),
    _meter("energy_export_kwh", "kWh", "Exported active energy", counter=True),
    _meter("energy_total_kwh", "kWh", "Total (combined) active energy", counter=True),
    _meter("reactive_energy_import_kvarh", "kvarh", "Imported reactive energy", counter=True),
    _meter("reactive_energy_export_kvarh", "kvarh", "Exported reactive energy", counter=True),
    *_phases("thd_voltage", "pct", "%", "Voltage total harmonic distortion"),
    *_phases("thd_current", "pct", "%", "Current total harmonic distortion"),
    _meter("ct_ratio", "", "Current transformer ratio configured in the meter"),
    _meter("pt_ratio", "", "Voltage transformer ratio configured in the meter"),
    StandardPoint("volume_m3", frozenset({"water"}), "m³", "Cumulative water volume",
                  counter=True),
    StandardPoint("flow_m3_h", frozenset({"water"}), "m³/h", "Instantaneous water flow"),
    StandardPoint("water_temp_c", frozenset({"water"}), "°C", "Water temperature"),
    StandardPoint("valve_state", frozenset({"water"}), "",
                  "Meter's valve: 0 open, 1 closed, 3 abnormal (CJ/T 188 status bits 0-1)"),
    StandardPoint("battery_low", frozenset({"water"}), "", "Meter's battery voltage low (1)"),
    StandardPoint("meter_clock", frozenset({"water"}), "",
                  "Meter's own clock, local time, as the number YYYYMMDDhhmmss"),
    StandardPoint("heat_energy_kwh", frozenset({"water"}), "kWh",
                  "Cumulative heat (or cold) delivered, heat meters", counter=True),
    StandardPoint("thermal_power_kw", frozenset({"water"}), "kW",
                  "Thermal power, heat meters"),
    StandardPoint("supply_temp_c", frozenset({"water"}), "°C", "Supply (flow) water temperature"),
    StandardPoint("return_temp_c", frozenset({"water"}), "°C", "Return water temperature"),
    StandardPoint("operating_hours_h", frozenset({"water"}), "h",
                  "Meter's cumulative working time", counter=True),
    StandardPoint("power", frozenset({"hvac"}), "", "Unit on (1) or off (0)",
                  codes=POWER_CODES),
    StandardPoint("mode", frozenset({"hvac"}), "", "Operating mode", codes=MODE_CODES),
    StandardPoint("setpoint_c", frozenset({"hvac"}), "°C", "Temperature setpoint"),
    StandardPoint("fan", frozenset({"hvac"}), "", "Fan speed", codes=FAN_CODES),
    StandardPoint("room_temp_c", frozenset({"hvac"}), "°C", "Room (return air) temperature"),
    StandardPoint("power_kw", frozenset({"hvac"}), "kW", "Electrical power of the unit"),
    StandardPoint("energy_kwh", frozenset({"hvac"}), "kWh", "Energy used by the unit",
                  counter=True),
    StandardPoint("error_code", frozenset({"hvac"}), "", "Malfunction code (0 = none)"),
    StandardPoint("filter_alarm", frozenset({"hvac"}), "", "Filter needs cleaning (1)"),
    StandardPoint("pipe_in_temp_c", frozenset({"hvac"}), "°C", "Refrigerant pipe-in temperature"),
    StandardPoint("pipe_out_temp_c", frozenset({"hvac"}), "°C",
                  "Refrigerant pipe-out temperature"),
    StandardPoint("remote_lock", frozenset({"hvac"}), "", "Local remote-control lock bits"),
    StandardPoint("window_open", frozenset({"hvac"}), "", "Window contact open (1)"),
    StandardPoint("occupied", frozenset({"hvac"}), "", "Occupancy sensor says occupied (1)"),
    _charger("charge_state", "", "IEC 61851-1 state of the charger and the car",
             CHARGE_STATE_CODES),
    _charger("current_limit_a", "A", "Current the charger may offer the car, per phase "
                                     "(0: none)"),
    _charger("failsafe_current_a", "A", "Current the charger falls back to when its "
                                        "watchdog expires, per phase"),
    _charger("watchdog_timeout_s", "s", "Silence on the bus after which the charger falls "
                                        "back to its fail-safe current"),
    _charger("standby", "", "Charger's power-saving standby enabled (1)", POWER_CODES),
])

STANDARD_POINTS: dict[str, StandardPoint] = {p.name: p for p in _POINTS}


def suggest(name: str, candidates: list[str] | None = None) -> str:
    """A ' (did you mean …?)' hint for a misspelt name, or ''."""
    pool = candidates if candidates is not None else list(STANDARD_POINTS)
    close = get_close_matches(name, pool, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
