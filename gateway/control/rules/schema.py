"""The rule file as operators write it: pydantic models, and parsers for values as people type them.

Validation here is per value and per section; what needs the site (groups,
devices, profiles, the tariff) is checked by ``compile``. The JSON Schema that
editors use (schemas/rules.schema.json, ``python -m devkit.schemas``) is generated
from these models, so every parser below also says, as JSON Schema, what it
takes. docs/rules.md is the reference for every key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.config import JsonDict

from gateway.core.semantics import FAN_CODES, MODE_CODES, suggest
from gateway.core.tou import parse_hhmm
from gateway.ev.charging_rules import ChargingRulesSpec

# -- value parsers (YAML as people write it) ------------------------------------

def _last_minute(allow_24: bool) -> int:
    return 1440 if allow_24 else 1439


def _time(value: Any, allow_24: bool = False) -> int:
    """``"07:30"`` → 450 minutes. Unquoted ``18:00`` reaches us as YAML 1.1's base-60 int 1080."""
    if isinstance(value, bool):
        raise ValueError("a time of day like \"07:30\"")
    if isinstance(value, int):
        if value < 60 or value > _last_minute(allow_24):
            raise ValueError(f"{value} is not a time of day; write it in quotes, like \"07:30\"")
        return value
    if isinstance(value, str):
        return parse_hhmm(value.strip(), allow_24)
    raise ValueError("a time of day like \"07:30\"")


def _end_time(value: Any) -> int:
    return _time(value, allow_24=True)


#: what ``power:`` takes for each code (YAML 1.1 reads an unquoted on/off as a boolean)
_POWER: dict[int, tuple[Any, ...]] = {1: (True, 1, "on", "ON", "On"),
                                      0: (False, 0, "off", "OFF", "Off")}


def _power(value: Any) -> int:
    for code, spellings in _POWER.items():
        if value in spellings:
            return code
    raise ValueError(f"power is on or off, not {value!r}")


def _enum(codes: dict[str, int], what: str) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, str) and value in codes:
            return codes[value]
        hint = suggest(str(value), list(codes)) if isinstance(value, str) else ""
        raise ValueError(f"{what} is one of {', '.join(codes)}, not {value!r}{hint}")
    return parse


def _months(value: Any) -> frozenset[int]:
    """``[5, 6, 7]``, ``"5-10"``, ``["11-12", "1-3"]`` → a set of months."""
    items = value if isinstance(value, list) else [value]
    out: set[int] = set()
    for item in items:
        if isinstance(item, bool):
            raise ValueError("months are 1-12 or ranges like \"5-10\"")
        if isinstance(item, int):
            lo = hi = item
        elif isinstance(item, str) and item.count("-") == 1:
            a, b = item.split("-")
            if not (a.strip().isdigit() and b.strip().isdigit()):
                raise ValueError(f"{item!r} is not a month range like \"5-10\"")
            lo, hi = int(a), int(b)
        elif isinstance(item, str) and item.strip().isdigit():
            lo = hi = int(item)
        else:
            raise ValueError(f"{item!r} is not a month (1-12) or a range like \"5-10\"")
        if not (1 <= lo <= 12 and 1 <= hi <= 12) or lo > hi:
            raise ValueError(f"{item!r} is not inside 1-12 (a range across the new year is "
                             "two ranges: [\"11-12\", \"1-3\"])")
        out.update(range(lo, hi + 1))
    return frozenset(out)


_BOOL_WORDS = {False: "off", True: "on"}


def _word(value: Any) -> Any:
    """YAML 1.1 reads off/on/no/yes as booleans; where a word is meant, keep the word."""
    if isinstance(value, bool):
        return _BOOL_WORDS[value]
    return value


def _str_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _tag(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                for v in value]
    return value


# -- the same values as JSON Schema: what each parser takes, for editors ---------

_CLOCK = r"0*(1?[0-9]|2[0-3]):[0-5][0-9]"
_MONTH = r"0*([1-9]|1[0-2])"


def _one_or_list(one: JsonDict) -> JsonDict:
    return {"anyOf": [one, {"type": "array", "items": one}]}


def _time_json(allow_24: bool = False) -> JsonDict:
    clock = f"({_CLOCK}|0*24:00)" if allow_24 else _CLOCK
    return {"anyOf": [{"type": "string", "pattern": rf"^\s*{clock}\s*$"},
                      {"type": "integer", "minimum": 60, "maximum": _last_minute(allow_24)}],
            "description": 'a time of day, like "07:30"'}


def _words_json(schema: JsonDict) -> None:
    """A choice of words, one of them written as a YAML 1.1 boolean (``_word``)."""
    words = cast(list[str], schema.pop("enum"))
    schema.pop("type", None)
    schema["enum"] = [*words, *(flag for flag, word in _BOOL_WORDS.items() if word in words)]


def _needs_one_of(*keys: str) -> ConfigDict:
    """A section that must set one of ``keys``, as its model validator checks."""
    return ConfigDict(json_schema_extra={"anyOf": [{"required": [key]} for key in keys]})


_MONTH_JSON: JsonDict = {"anyOf": [
    {"type": "integer", "minimum": 1, "maximum": 12},
    {"type": "string", "pattern": rf"^\s*{_MONTH}\s*(-\s*{_MONTH}\s*)?$"}]}
_TAG_JSON: JsonDict = {"type": ["string", "number"]}

TimeOfDay = Annotated[int, BeforeValidator(_time), WithJsonSchema(_time_json())]
EndTime = Annotated[int, BeforeValidator(_end_time), WithJsonSchema(_time_json(allow_24=True))]
PowerValue = Annotated[int, BeforeValidator(_power), WithJsonSchema(
    {"enum": [s for spellings in _POWER.values() for s in spellings]})]
ModeValue = Annotated[int, BeforeValidator(_enum(MODE_CODES, "mode")),
                      WithJsonSchema({"type": "string", "enum": list(MODE_CODES)})]
FanValue = Annotated[int, BeforeValidator(_enum(FAN_CODES, "fan")),
                     WithJsonSchema({"type": "string", "enum": list(FAN_CODES)})]
Months = Annotated[frozenset[int], BeforeValidator(_months), WithJsonSchema(
    {**_one_or_list(_MONTH_JSON), "description": 'months 1-12 and ranges like "5-10"'})]
NameList = Annotated[list[str], BeforeValidator(_str_list),
                     WithJsonSchema(_one_or_list({"type": "string"}))]
TagValue = Annotated[str | list[str], BeforeValidator(_tag),
                     WithJsonSchema(_one_or_list(_TAG_JSON))]
DayTypeName = Literal["workday", "makeup_workday", "weekend", "holiday", "closure"]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Celsius = Annotated[float, Field(ge=5, le=40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# -- the file's shape ------------------------------------------------------------

class GroupSpec(_Strict):
    model_config = _needs_one_of("match", "devices")

    #: tags every unit must have (a list means any of these values)
    match: dict[str, TagValue] | None = None
    devices: NameList | None = None
    exclude: NameList = []
    note: str | None = None

    @model_validator(mode="after")
    def _something(self) -> GroupSpec:
        if self.match is None and self.devices is None:
            raise ValueError("a group needs match: {tag: value} or devices: [...]")
        return self


class _Scoped(_Strict):
    group: NameList
    except_: NameList = Field([], alias="except")
    priority: int = Field(0, ge=-100, le=100)
    note: str | None = None


STEP_KEYS = ("power", "mode", "setpoint_c", "fan")


class EntrySpec(_Strict):
    model_config = _needs_one_of(*STEP_KEYS)

    at: TimeOfDay
    power: PowerValue | None = None
    mode: ModeValue | None = None
    setpoint_c: Celsius | None = None
    fan: FanValue | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _says_something(self) -> EntrySpec:
        if all(getattr(self, key) is None for key in STEP_KEYS):
            raise ValueError(f"a step sets at least one of {', '.join(STEP_KEYS)}")
        return self


class ConditionSpec(_Strict):
    outdoor_above_c: float | None = None
    outdoor_below_c: float | None = None
    #: without a fresh outdoor reading the condition counts as met (active) or not
    if_unknown: Literal["active", "inactive"] = "inactive"


class ScheduleSpec(_Scoped):
    hold: Literal["slot", "always"] = "slot"
    months: Months | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    when: ConditionSpec | None = None
    workday: list[EntrySpec] | None = None
    makeup_workday: list[EntrySpec] | None = None
    weekend: list[EntrySpec] | None = None
    holiday: list[EntrySpec] | None = None
    closure: list[EntrySpec] | None = None
    off_day: list[EntrySpec] | None = None
    every_day: list[EntrySpec] | None = None


DAY_KEYS = ("workday", "makeup_workday", "weekend", "holiday", "closure", "off_day", "every_day")


class SweepSpec(_Scoped):
    at: Annotated[list[TimeOfDay], BeforeValidator(lambda v: v if isinstance(v, list) else [v]),
                  WithJsonSchema(_one_or_list(_time_json()))]
    day_types: list[DayTypeName] | None = None
    months: Months | None = None


class SpanSpec(_Strict):
    from_: TimeOfDay = Field(alias="from")
    to: EndTime


class PrecoolSpec(_Scoped):
    model_config = _needs_one_of("setpoint_c", "peak_setpoint_c")

    window: SpanSpec
    months: Months | None = None
    day_types: list[DayTypeName] = ["workday", "makeup_workday"]
    setpoint_c: Celsius | None = None
    switch_on: bool = False
    peak_setpoint_c: Celsius | None = None
    min_outdoor_c: float | None = None
    outdoor_unknown: Literal["run", "skip"] = "skip"

    @model_validator(mode="after")
    def _says_something(self) -> PrecoolSpec:
        if self.setpoint_c is None and self.peak_setpoint_c is None:
            raise ValueError("pre-cooling needs setpoint_c (in the window) and/or "
                             "peak_setpoint_c (the float in the peak)")
        return self


class OptimalStartSpec(_Scoped):
    """Warm up (heat) or cool down (cool) so rooms are ready at ``occupied``."""

    mode: Literal["heat", "cool"]
    months: Months | None = None
    day_types: list[DayTypeName] = ["workday", "makeup_workday"]
    #: never start before (the start of a cheap period, say)
    earliest: TimeOfDay
    #: the rooms must be at ``reach_c`` by then (the schedule takes over)
    occupied: TimeOfDay
    #: what the units are set to while they run
    setpoint_c: Celsius
    #: the room temperature that counts as ready
    reach_c: Celsius
    #: first guess of K/h at full power, until each unit has measured its own
    rate_k_per_h: float = Field(2.0, ge=0.2, le=20)
    margin_min: float = Field(20, ge=0, le=240)
    #: units in their full-power phase at once (the demand limit by construction)
    max_concurrent: int | None = Field(None, ge=1, le=10_000)


class ComfortGuardSpec(_Scoped):
    """Feedback on the room temperature in occupied hours."""

    months: Months | None = None
    day_types: list[DayTypeName] = ["workday", "makeup_workday"]
    active: SpanSpec
    cooling_high_c: Celsius = 27.6
    heating_low_c: Celsius = 18.4
    step_k: float = Field(0.5, gt=0, le=3)
    max_k: float = Field(2.0, gt=0, le=6)
    interval_min: float = Field(10, ge=1, le=240)
    hysteresis_k: float = Field(0.5, ge=0, le=5)


class OccupancySpec(_Scoped):
    vacant_min: float = Field(15, gt=0, le=24 * 60)
    occupied_s: float = Field(60, ge=0, le=3600)
    action: Annotated[Literal["off", "relax"], BeforeValidator(_word),
                      Field(json_schema_extra=_words_json)] = "relax"
    relax_k: float = Field(2.0, gt=0, le=10)


class WindowSpec(_Scoped):
    open_delay_s: float = Field(60, ge=0, le=3600)
    close_delay_s: float = Field(300, ge=0, le=3600)
    action: Annotated[Literal["off", "fan"], BeforeValidator(_word),
                      Field(json_schema_extra=_words_json)] = "off"


class ShedClassSpec(_Strict):
    group: NameList
    except_: NameList = Field([], alias="except")
    class_: int = Field(alias="class", ge=1, le=9)


class FutilitySpec(_Strict):
    min_drop_kw: float = Field(0.3, ge=0)
    passes: int = Field(3, ge=1, le=20)


class ActiveSpec(_Strict):
    from_: TimeOfDay = Field(alias="from")
    to: EndTime
    day_types: list[DayTypeName] | None = None


class DemandSpec(_Strict):
    meter: str
    point: str = "active_power_kw"
    limit_kw: float = Field(gt=0)
    deadband_kw: float = Field(1.0, ge=0)
    window_min: Literal[5, 10, 15, 30, 60] = 15
    window_offset_min: int = Field(0, ge=0, le=59)
    confirm_s: float = Field(60, ge=0, le=900)
    pass_interval_s: float = Field(60, gt=0, le=900)
    max_units_per_pass: int = Field(3, ge=1, le=1000)
    curtail_s: float = Field(600, ge=0, le=7200)
    release_interval_s: float = Field(120, ge=0, le=3600)
    release_units: int = Field(1, ge=1, le=1000)
    relief_k: list[Annotated[float, Field(gt=0, le=6)]] = [1.0, 2.0]
    allow_off: bool = True
    futility: FutilitySpec = FutilitySpec()
    release_estimate_kw: float = Field(1.0, ge=0)
    meter_stale_s: float = Field(60, gt=0)
    shed: list[ShedClassSpec] = Field(min_length=1)
    active: ActiveSpec | None = None


class ProtectionSpec(_Strict):
    min_on_s: float = Field(300, ge=0, le=3600)
    min_off_s: float = Field(300, ge=0, le=3600)
    max_starts_per_hour: int = Field(6, ge=1, le=60)
    changeover_delay_s: float = Field(600, ge=0, le=7200)
    restart_stagger_s: float = Field(120, ge=0, le=1800)
    comms_lost_s: float = Field(120, gt=0, le=86400)


class SafetySpec(_Strict):
    kill_switch: bool = False
    stale_after_s: float = Field(120, gt=0, le=86400)


class OverridesSpec(_Strict):
    default_min: float = Field(120, gt=0, le=24 * 60)
    max_min: float = Field(480, gt=0, le=7 * 24 * 60)
    end_at_next_slot: bool = True

    @model_validator(mode="after")
    def _default_within_max(self) -> OverridesSpec:
        if self.default_min > self.max_min:
            raise ValueError(f"default_min ({self.default_min:g}) is longer than max_min "
                             f"({self.max_min:g})")
        return self


class EngineSpec(_Strict):
    tick_s: float = Field(10, ge=1, le=300)
    max_attempts: int = Field(3, ge=1, le=20)
    retry_after_alarm_min: float = Field(15, gt=0, le=24 * 60)
    write_ttl_s: float = Field(30, gt=0, le=600)


class ExemptionSpec(_Strict):
    zone: NameList
    reason: str = Field(min_length=3)


class PolicySpec(_Strict):
    cooling_min_c: float = Field(26.0, ge=16, le=30)
    heating_max_c: float = Field(20.0, ge=10, le=30)
    cooling_months: Months = frozenset(range(5, 11))
    exemptions: list[ExemptionSpec] = []


class ClosureSpec(_Strict):
    from_: date = Field(alias="from")
    to: date | None = None
    reason: str = Field(min_length=3)
    group: NameList | None = None


class OpenDaySpec(_Strict):
    date: date
    reason: str = Field(min_length=3)
    group: NameList | None = None


class OfficialYearSpec(_Strict):
    holidays: list[date]
    workdays: list[date] = []
    source: str = Field(min_length=3)


class CalendarSpec(_Strict):
    country: Literal["CN"] = "CN"
    outside_coverage: Literal["estimate", "weekday", "closed"] = "estimate"
    warn_days_ahead: int = Field(30, ge=0, le=366)
    closures: list[ClosureSpec] = []
    open_days: list[OpenDaySpec] = []
    official_years: dict[int, OfficialYearSpec] = {}


class SensorSpec(_Strict):
    device: str
    point: str
    stale_s: float = Field(900, gt=0)


class SensorsSpec(_Strict):
    outdoor_temp: SensorSpec | None = None


class RuleFile(_Strict):
    version: Literal[1] = 1
    site: str | None = None
    description: str | None = None
    calendar: CalendarSpec = CalendarSpec()
    tariff: str | None = None
    sensors: SensorsSpec = SensorsSpec()
    groups: dict[Name, GroupSpec] = {}
    policy: PolicySpec = PolicySpec()
    schedules: dict[Name, ScheduleSpec] = {}
    sweeps: dict[Name, SweepSpec] = {}
    precool: dict[Name, PrecoolSpec] = {}
    optimal_start: dict[Name, OptimalStartSpec] = {}
    comfort_guard: dict[Name, ComfortGuardSpec] = {}
    occupancy: dict[Name, OccupancySpec] = {}
    windows: dict[Name, WindowSpec] = {}
    demand: DemandSpec | None = None
    #: the car park's rules (gateway/ev/charging_rules.py, docs/ev-charging.md)
    charging: ChargingRulesSpec | None = None
    overrides: OverridesSpec = OverridesSpec()
    protection: ProtectionSpec = ProtectionSpec()
    safety: SafetySpec = SafetySpec()
    engine: EngineSpec = EngineSpec()
