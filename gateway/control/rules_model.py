"""Rule files: the YAML schema operators edit by hand, and the loader that checks it whole.

``load_rules(path, site)`` validates the file (pydantic, then checks against the
site: groups, devices, zones, what each unit's profile can do, the regulatory
limits, the tariff, overlaps) and returns a compiled ``RuleSet``. Every mistake
is reported as ``file:line: field: message``, all of them at once; a file with
any mistake yields no rule set at all, so a bad edit never half-applies.
docs/rules.md is the reference for every key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from gateway.control.ruleset import (
    MODE,
    POINTS,
    Condition,
    DemandConfig,
    EngineConfig,
    Entry,
    OccupancyRule,
    OverrideConfig,
    PolicyConfig,
    PrecoolRule,
    ProtectionConfig,
    RuleSet,
    SafetyConfig,
    SensorRef,
    SlotRule,
    UnitInfo,
    WindowRule,
)
from gateway.core.calendar import (
    DAY_TYPES,
    Closure,
    DayType,
    OfficialYear,
    OpenDay,
    SiteCalendar,
)
from gateway.core.policy import COOLING_MODES, HEATING_MODES
from gateway.core.semantics import FAN_CODES, MODE_CODES, suggest
from gateway.core.site import Site
from gateway.core.sourcefile import ConfigError, Loc, Problem, SourceDoc, load_yaml
from gateway.core.tou import (
    PERIOD_RANK,
    TARIFFS_DIR,
    TouPeriods,
    load_tariff,
    parse_hhmm,
    tariff_path,
)

MODE_NAMES = {code: name for name, code in MODE_CODES.items()}
FAN_NAMES = {code: name for name, code in FAN_CODES.items()}
ALL_GROUP = "all"


# -- value parsers (YAML as people write it) ------------------------------------

def _time(value: Any, allow_24: bool = False) -> int:
    """``"07:30"`` → 450 minutes. Unquoted ``18:00`` reaches us as YAML 1.1's base-60 int 1080."""
    if isinstance(value, bool):
        raise ValueError("a time of day like \"07:30\"")
    if isinstance(value, int):
        if value < 60 or value > (1440 if allow_24 else 1439):
            raise ValueError(f"{value} is not a time of day; write it in quotes, like \"07:30\"")
        return value
    if isinstance(value, str):
        return parse_hhmm(value.strip(), allow_24)
    raise ValueError("a time of day like \"07:30\"")


def _end_time(value: Any) -> int:
    return _time(value, allow_24=True)


def _power(value: Any) -> int:
    if value is True or value in (1, "on", "ON", "On"):
        return 1
    if value is False or value in (0, "off", "OFF", "Off"):
        return 0
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


def _word(value: Any) -> Any:
    """YAML 1.1 reads off/on/no/yes as booleans; where a word is meant, keep the word."""
    if value is False:
        return "off"
    if value is True:
        return "on"
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


TimeOfDay = Annotated[int, BeforeValidator(_time)]
EndTime = Annotated[int, BeforeValidator(_end_time)]
PowerValue = Annotated[int, BeforeValidator(_power)]
ModeValue = Annotated[int, BeforeValidator(_enum(MODE_CODES, "mode"))]
FanValue = Annotated[int, BeforeValidator(_enum(FAN_CODES, "fan"))]
Months = Annotated[frozenset[int], BeforeValidator(_months)]
NameList = Annotated[list[str], BeforeValidator(_str_list)]
TagValue = Annotated[str | list[str], BeforeValidator(_tag)]
DayTypeName = Literal["workday", "makeup_workday", "weekend", "holiday", "closure"]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Celsius = Annotated[float, Field(ge=5, le=40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# -- the file's shape ------------------------------------------------------------

class GroupSpec(_Strict):
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


class EntrySpec(_Strict):
    at: TimeOfDay
    power: PowerValue | None = None
    mode: ModeValue | None = None
    setpoint_c: Celsius | None = None
    fan: FanValue | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _says_something(self) -> EntrySpec:
        if self.power is None and self.mode is None and self.setpoint_c is None \
                and self.fan is None:
            raise ValueError("a step sets at least one of power, mode, setpoint_c, fan")
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
#: where a day type takes its steps from when its own key is absent
FALLBACK: dict[DayType, tuple[str, ...]] = {
    DayType.WORKDAY: ("workday", "every_day"),
    DayType.MAKEUP_WORKDAY: ("makeup_workday", "workday", "every_day"),
    DayType.WEEKEND: ("weekend", "off_day", "every_day"),
    DayType.HOLIDAY: ("holiday", "off_day", "every_day"),
    DayType.CLOSURE: ("closure", "off_day", "every_day"),
}


class SweepSpec(_Scoped):
    at: Annotated[list[TimeOfDay], BeforeValidator(lambda v: v if isinstance(v, list) else [v])]
    day_types: list[DayTypeName] | None = None
    months: Months | None = None


class SpanSpec(_Strict):
    from_: TimeOfDay = Field(alias="from")
    to: EndTime


class PrecoolSpec(_Scoped):
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


class OccupancySpec(_Scoped):
    vacant_min: float = Field(15, gt=0, le=24 * 60)
    occupied_s: float = Field(60, ge=0, le=3600)
    action: Annotated[Literal["off", "relax"], BeforeValidator(_word)] = "relax"
    relax_k: float = Field(2.0, gt=0, le=10)


class WindowSpec(_Scoped):
    open_delay_s: float = Field(60, ge=0, le=3600)
    close_delay_s: float = Field(300, ge=0, le=3600)
    action: Annotated[Literal["off", "fan"], BeforeValidator(_word)] = "off"


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
    occupancy: dict[Name, OccupancySpec] = {}
    windows: dict[Name, WindowSpec] = {}
    demand: DemandSpec | None = None
    overrides: OverridesSpec = OverridesSpec()
    protection: ProtectionSpec = ProtectionSpec()
    safety: SafetySpec = SafetySpec()
    engine: EngineSpec = EngineSpec()


# -- loading ------------------------------------------------------------------

def _tidy(problem: Problem) -> Problem:
    msg = problem.message.removeprefix("Value error, ")
    return Problem(problem.file, problem.line, problem.field, msg)


def _digest(data: Any) -> str:
    return hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _names(units: Iterable[str], limit: int = 3) -> str:
    items = sorted(units)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


class _Loader:
    def __init__(self, doc: SourceDoc, spec: RuleFile, site: Site, tariffs_dir: Path | None):
        self.doc = doc
        self.spec = spec
        self.site = site
        self.tariffs_dir = tariffs_dir
        self.problems: list[Problem] = []
        self.units: dict[str, UnitInfo] = {}
        self.groups: dict[str, frozenset[str]] = {}
        self.files: list[str] = [doc.path]

    def bad(self, loc: Loc, message: str) -> None:
        self.problems.append(self.doc.problem(loc, message))

    # units and groups ------------------------------------------------------

    def build_units(self, exempt: Mapping[str, str]) -> None:
        for dev_id, dev in self.site.devices.items():
            if dev.profile.kind != "hvac":
                continue
            pts = dev.profile.points

            def codes(name: str, table: dict[str, int], points: Any = pts) -> frozenset[int]:
                p = points.get(name)
                if p is None or not p.writable or p.names is None:
                    return frozenset()
                return frozenset(table[n] for n in p.names if n in table)

            sp = pts.get("setpoint_c")
            zone = dev.config.tags.get("zone")
            self.units[dev_id] = UnitInfo(
                id=dev_id, zone=zone, tags=dict(dev.config.tags), groups=frozenset(),
                exempt=exempt.get(zone) if zone is not None else None,
                modes=codes("mode", MODE_CODES), fans=codes("fan", FAN_CODES),
                writable=frozenset(n for n, p in pts.items() if p.writable and n in POINTS),
                sp_min=sp.min if sp is not None and sp.min is not None else 16.0,
                sp_max=sp.max if sp is not None and sp.max is not None else 32.0,
                area_m2=dev.config.area_m2, cal_groups=frozenset(),
                has_occupancy="occupied" in pts, has_window="window_open" in pts)

    def build_groups(self) -> None:
        self.groups[ALL_GROUP] = frozenset(self.units)
        tag_names = sorted({t for u in self.units.values() for t in u.tags})
        for name, g in self.spec.groups.items():
            at: Loc = ("groups", name)
            if name == ALL_GROUP:
                self.bad(at, "'all' is built in (every AC unit); name the group differently")
                continue
            members: set[str] = set()
            if g.match is not None:
                for tag in g.match:
                    if tag not in tag_names:
                        self.bad((*at, "match", tag), f"no AC unit has a tag '{tag}'"
                                 f"{suggest(tag, tag_names)}")
                for uid, u in self.units.items():
                    if all(u.tags.get(k) in (v if isinstance(v, list) else [v])
                           for k, v in g.match.items()):
                        members.add(uid)
            for i, dev in enumerate(g.devices or []):
                if self._check_device(dev, (*at, "devices", i)):
                    members.add(dev)
            for i, dev in enumerate(g.exclude):
                if self._check_device(dev, (*at, "exclude", i)):
                    members.discard(dev)
            if not members and g.match is not None:
                self.bad(at, "matches no AC unit of the site")
            self.groups[name] = frozenset(members)
        for uid, u in list(self.units.items()):
            mine = frozenset(n for n, m in self.groups.items() if uid in m)
            self.units[uid] = dataclasses.replace(u, groups=mine)

    def _check_device(self, dev: str, loc: Loc) -> bool:
        if dev in self.units:
            return True
        if dev in self.site.devices:
            self.bad(loc, f"'{dev}' is a {self.site.devices[dev].profile.kind} device, not an "
                          "AC unit")
        else:
            self.bad(loc, f"no device '{dev}' in the site{suggest(dev, list(self.units))}")
        return False

    def scope(self, group: list[str], excepts: list[str], at: Loc) -> frozenset[str]:
        units: set[str] = set()
        for i, name in enumerate(group):
            loc = (*at, "group") if len(group) == 1 else (*at, "group", i)
            if name in self.groups:
                units |= self.groups[name]
            elif name in self.units:
                units.add(name)
            else:
                self.bad(loc, f"no group or AC unit '{name}'"
                         f"{suggest(name, [*self.groups, *self.units])}")
        for i, name in enumerate(excepts):
            if name in self.groups:
                units -= self.groups[name]
            elif name in self.units:
                units.discard(name)
            else:
                self.bad((*at, "except", i), f"no group or AC unit '{name}'"
                         f"{suggest(name, [*self.groups, *self.units])}")
        return frozenset(units)

    def group_names(self, names: list[str] | None, at: Loc) -> frozenset[str] | None:
        if names is None:
            return None
        for i, name in enumerate(names):
            if name not in self.groups:
                self.bad((*at, i) if len(names) > 1 else at,
                         f"no group '{name}'{suggest(name, list(self.groups))}")
        return frozenset(names)

    # policy ----------------------------------------------------------------

    def policy(self) -> PolicyConfig:
        p = self.spec.policy
        zones = sorted({d.config.tags["zone"] for d in self.site.devices.values()
                        if "zone" in d.config.tags})
        exemptions: dict[str, str] = {}
        for i, ex in enumerate(p.exemptions):
            for j, zone in enumerate(ex.zone):
                loc: Loc = ("policy", "exemptions", i, "zone")
                if len(ex.zone) > 1:
                    loc = (*loc, j)
                if zone not in zones:
                    self.bad(loc, f"no device has zone '{zone}'{suggest(zone, zones)}")
                elif zone in exemptions:
                    self.bad(loc, f"zone '{zone}' is exempted twice")
                exemptions[zone] = ex.reason
        if p.heating_max_c >= p.cooling_min_c:
            self.bad(("policy", "heating_max_c"),
                     f"heating ceiling {p.heating_max_c:g} °C must be below the cooling floor "
                     f"{p.cooling_min_c:g} °C")
        return PolicyConfig(p.cooling_min_c, p.heating_max_c, p.cooling_months, exemptions)

    # calendar --------------------------------------------------------------

    def calendar(self) -> SiteCalendar:
        c = self.spec.calendar
        closures = []
        for i, cl in enumerate(c.closures):
            at: Loc = ("calendar", "closures", i)
            end = cl.to or cl.from_
            if end < cl.from_:
                self.bad((*at, "to"), f"ends ({end}) before it starts ({cl.from_})")
            closures.append(Closure(cl.from_, end, cl.reason,
                                    self.group_names(cl.group, (*at, "group"))))
        open_days = [OpenDay(o.date, o.reason,
                             self.group_names(o.group, ("calendar", "open_days", i, "group")))
                     for i, o in enumerate(c.open_days)]
        years = []
        for year, oy in c.official_years.items():
            for key in ("holidays", "workdays"):
                for j, d in enumerate(getattr(oy, key)):
                    if d.year != year:
                        self.bad(("calendar", "official_years", str(year), key, j),
                                 f"{d} is not in {year}")
            years.append(OfficialYear(year, frozenset(oy.holidays), frozenset(oy.workdays),
                                      oy.source))
        scoped = [c.groups for c in closures] + [o.groups for o in open_days]
        cal_groups = frozenset(g for gs in scoped if gs for g in gs)
        for uid, u in list(self.units.items()):
            self.units[uid] = dataclasses.replace(u, cal_groups=u.groups & cal_groups)
        return SiteCalendar(c.country, closures, open_days, years, c.outside_coverage,
                            c.warn_days_ahead)

    # capabilities and limits -------------------------------------------------

    def check_values(self, units: frozenset[str], loc: Loc, mode: int | None,
                     modes_in_force: Iterable[int], setpoint: float | None,
                     fan: int | None, policy: PolicyConfig, power: int | None = None,
                     sp_key: str = "setpoint_c") -> None:
        """What each unit of a scope must be able to do for one step."""
        if mode is not None:
            lacking = [u for u in units if mode not in self.units[u].modes]
            if lacking:
                self.bad((*loc, "mode"), f"{_names(lacking)} cannot be set to mode "
                         f"'{MODE_NAMES[mode]}' (not in its profile)")
            if mode == MODE_CODES["auto"]:
                strict = [u for u in units if self.units[u].exempt is None]
                if strict:
                    self.bad((*loc, "mode"), f"auto may cool below {policy.cooling_min_c:g} °C "
                             f"or heat above {policy.heating_max_c:g} °C; {_names(strict)} "
                             "are not exempt: use cool or heat")
        if fan is not None:
            lacking = [u for u in units if fan not in self.units[u].fans]
            if lacking:
                self.bad((*loc, "fan"), f"{_names(lacking)} cannot be set to fan "
                         f"'{FAN_NAMES[fan]}' (not in its profile)")
        for name, value in (("setpoint_c", setpoint), ("mode", mode), ("fan", fan),
                            ("power", power)):
            if value is None:
                continue
            lacking = [u for u in units if name not in self.units[u].writable]
            if lacking:
                self.bad((*loc, name), f"{_names(lacking)} has no writable '{name}'")
        if setpoint is None:
            return
        out = [u for u in units if not self.units[u].sp_min <= setpoint <= self.units[u].sp_max]
        if out:
            u = self.units[out[0]]
            self.bad((*loc, sp_key), f"{setpoint:g} °C is outside what {_names(out)} "
                     f"accept ({u.sp_min:g}-{u.sp_max:g} °C)")
        strict = [u for u in units if self.units[u].exempt is None]
        if not strict:
            return
        modes = set(modes_in_force)
        if modes & COOLING_MODES and setpoint < policy.cooling_min_c:
            self.bad((*loc, sp_key), f"{setpoint:g} °C is below the cooling floor "
                     f"{policy.cooling_min_c:g} °C for {_names(strict)}; raise it, or exempt "
                     "the zone in policy.exemptions with a reason")
        if modes & HEATING_MODES and setpoint > policy.heating_max_c:
            self.bad((*loc, sp_key), f"{setpoint:g} °C is above the heating ceiling "
                     f"{policy.heating_max_c:g} °C for {_names(strict)}; lower it, or exempt "
                     "the zone in policy.exemptions with a reason")

    # schedules and sweeps ----------------------------------------------------

    def schedules(self, policy: PolicyConfig) -> list[SlotRule]:
        out = []
        raw_all = self.doc.data.get("schedules", {}) if isinstance(self.doc.data, dict) else {}
        for name, s in self.spec.schedules.items():
            at: Loc = ("schedules", name)
            units = self.scope(s.group, s.except_, at)
            if s.valid_from and s.valid_to and s.valid_to < s.valid_from:
                self.bad((*at, "valid_to"), "ends before valid_from")
            given = [k for k in DAY_KEYS if getattr(s, k) is not None]
            if not given:
                self.bad(at, "no steps: give workday, weekend, holiday, makeup_workday, "
                         "closure, off_day or every_day")
            all_modes = {e.mode for k in given for e in getattr(s, k) if e.mode is not None}
            compiled: dict[str, tuple[Entry, ...]] = {}
            for key in given:
                entries: list[Entry] = []
                mode_now: int | None = None
                for i, e in enumerate(getattr(s, key)):
                    loc = (*at, key, i)
                    if entries and e.at <= entries[-1].minute:
                        self.bad((*loc, "at"), f"{e.at // 60:02d}:{e.at % 60:02d} is not after "
                                 f"the step before ({entries[-1].hhmm}); steps go in time order")
                    if e.mode is not None:
                        mode_now = e.mode
                    in_force = [mode_now] if mode_now is not None else sorted(all_modes)
                    if units:
                        self.check_values(units, loc, e.mode, in_force, e.setpoint_c, e.fan,
                                          policy, e.power)
                    entries.append(Entry(e.at, (e.power, e.mode, e.setpoint_c, e.fan), i,
                                         self.doc.line_of(loc), e.note))
                compiled[key] = tuple(entries)
            days = {dt: compiled[k] for dt in DAY_TYPES
                    for k in [next((k for k in FALLBACK[dt] if k in compiled), None)]
                    if k is not None}
            when = None
            if s.when is not None:
                when = Condition(s.when.outdoor_above_c, s.when.outdoor_below_c,
                                 s.when.if_unknown == "active")
            out.append(SlotRule(
                id=f"schedule:{name}", name=name, units=units, priority=s.priority,
                line=self.doc.line_of(at), kind="schedule", hold_always=s.hold == "always",
                months=s.months, valid_from=s.valid_from, valid_to=s.valid_to, when=when,
                days=days, digest=_digest(raw_all.get(name))))
        return out

    def sweeps(self) -> list[SlotRule]:
        out = []
        raw_all = self.doc.data.get("sweeps", {}) if isinstance(self.doc.data, dict) else {}
        for name, s in self.spec.sweeps.items():
            at: Loc = ("sweeps", name)
            units = self.scope(s.group, s.except_, at)
            times = sorted(set(s.at))
            if len(times) != len(s.at):
                self.bad((*at, "at"), "the same time is listed twice")
            lacking = [u for u in units if "power" not in self.units[u].writable]
            if lacking:
                self.bad((*at, "group"), f"{_names(lacking)} has no writable 'power'")
            entries = tuple(Entry(t, (0, None, None, None), i, self.doc.line_of((*at, "at")),
                                  "after-hours sweep") for i, t in enumerate(times))
            types = DAY_TYPES if s.day_types is None else tuple(DayType(d) for d in s.day_types)
            out.append(SlotRule(
                id=f"sweep:{name}", name=name, units=units, priority=s.priority,
                line=self.doc.line_of(at), kind="sweep", months=s.months,
                days={dt: entries for dt in types}, digest=_digest(raw_all.get(name))))
        return out

    def overlaps(self, rules: list[SlotRule]) -> None:
        """Same layer, same scope size and priority, shared units and days, different modes
        that no tie-breaker can order (cool / heat / auto): a load-time error."""
        contested = {MODE_CODES["cool"], MODE_CODES["heat"], MODE_CODES["auto"]}
        for i, a in enumerate(rules):
            for b in rules[i + 1:]:
                shared = a.units & b.units
                if not shared or a.scope != b.scope or a.priority != b.priority:
                    continue
                if a.months is not None and b.months is not None and not a.months & b.months:
                    continue
                if (a.valid_to and b.valid_from and a.valid_to < b.valid_from) or \
                        (b.valid_to and a.valid_from and b.valid_to < a.valid_from):
                    continue
                for dt in DAY_TYPES:
                    ma = {e.values[MODE] for e in a.days.get(dt, ())} & contested
                    mb = {e.values[MODE] for e in b.days.get(dt, ())} & contested
                    if ma and mb and (ma | mb) != (ma & mb):
                        names = "/".join(sorted(MODE_NAMES[int(m)] for m in ma | mb
                                                if m is not None))
                        self.bad(("schedules", b.name) if b.kind == "schedule"
                                 else ("sweeps", b.name),
                                 f"overlaps {a.kind} '{a.name}' (line {a.line}) on "
                                 f"{_names(shared)} ({dt.value}) with the same scope "
                                 f"({a.scope} units) and priority ({a.priority}) but other "
                                 f"modes ({names}); nothing can resolve that: give one a "
                                 "priority, narrow its group or separate their months")
                        break

    # tariff and pre-cooling --------------------------------------------------

    def tariff(self) -> TouPeriods | None:
        tariff_id = self.spec.tariff or self.site.spec.site.tariff
        if tariff_id is None:
            return None
        candidates = [tariff_path(tariff_id, self.tariffs_dir)] if self.tariffs_dir else [
            Path(self.doc.path).resolve().parent.parent / "tariffs" / f"{tariff_id}.yaml",
            tariff_path(tariff_id, TARIFFS_DIR)]
        path = next((p for p in candidates if p.is_file()), None)
        loc: Loc = ("tariff",) if self.spec.tariff else ()
        if path is None:
            if self.spec.tariff is not None or self.spec.precool:
                self.bad(loc, f"no tariff file {tariff_id}.yaml (looked in the tariffs/ "
                         "folder beside the rules folder, then in the gateway's tariffs/)")
            return None
        try:
            periods = load_tariff(path)
        except ConfigError as exc:
            self.bad(loc, f"tariff '{tariff_id}' is invalid")
            self.problems.extend(exc.problems)
            return None
        self.files.append(str(path))
        return periods

    def precool(self, tariff: TouPeriods | None, policy: PolicyConfig) -> list[PrecoolRule]:
        out = []
        for name, p in self.spec.precool.items():
            at: Loc = ("precool", name)
            units = self.scope(p.group, p.except_, at)
            start, end = p.window.from_, p.window.to
            if end <= start:
                self.bad((*at, "window", "to"), "ends before it starts")
            cool = [MODE_CODES["cool"]]
            for key, value in (("setpoint_c", p.setpoint_c), ("peak_setpoint_c",
                                                              p.peak_setpoint_c)):
                if value is not None and units:
                    self.check_values(units, at, None, cool, value, None, policy, sp_key=key)
            if p.setpoint_c is not None and p.peak_setpoint_c is not None and \
                    p.peak_setpoint_c < p.setpoint_c:
                self.bad((*at, "peak_setpoint_c"), "the peak float is below the pre-cooling "
                         "setpoint; it should be equal or higher")
            if tariff is None:
                self.bad(at, "pre-cooling needs a tariff (tariff: or the site's tariff)")
            elif end > start:
                self._check_window(tariff, p, start, end, (*at, "window"))
            out.append(PrecoolRule(
                id=f"precool:{name}", name=name, units=units, priority=p.priority,
                line=self.doc.line_of(at), months=p.months,
                day_types=frozenset(DayType(d) for d in p.day_types), start=start, end=end,
                setpoint_c=p.setpoint_c, switch_on=p.switch_on,
                peak_setpoint_c=p.peak_setpoint_c, min_outdoor_c=p.min_outdoor_c,
                outdoor_unknown_runs=p.outdoor_unknown == "run"))
        return out

    def _check_window(self, tariff: TouPeriods, p: PrecoolSpec, start: int, end: int,
                      loc: Loc) -> None:
        for month in sorted(p.months or range(1, 13)):
            spans = tariff.spans(month)
            inside = {per for a, b, per in spans if a < end and b > start}
            dear = sorted(x for x in inside if PERIOD_RANK[x] >= PERIOD_RANK["peak"])
            if dear:
                self.bad(loc, f"in month {month} the window is partly in the {dear[0]} period "
                         f"of tariff {tariff.id}: pre-cool in a cheaper period before the peak")
                return
            after = [per for a, b, per in spans if end <= a < end + 4 * 60]
            if not any(PERIOD_RANK[x] >= PERIOD_RANK["peak"] for x in after):
                self.bad(loc, f"in month {month} no peak of tariff {tariff.id} follows within "
                         "4 h of the window's end; pre-cooling there buys nothing")
                return

    # occupancy, windows, demand, sensors ------------------------------------

    def occupancy(self) -> list[OccupancyRule]:
        out = []
        for name, o in self.spec.occupancy.items():
            at: Loc = ("occupancy", name)
            units = self.scope(o.group, o.except_, at)
            if units and not any(self.units[u].has_occupancy for u in units):
                self.bad((*at, "group"), "no unit of this scope reports 'occupied' (its "
                         "profile has no occupancy point): the rule would never act")
            out.append(OccupancyRule(
                id=f"occupancy:{name}", name=name, units=units, priority=o.priority,
                line=self.doc.line_of(at), vacant_s=o.vacant_min * 60, occupied_s=o.occupied_s,
                action=o.action, relax_k=o.relax_k))
        return out

    def windows(self) -> list[WindowRule]:
        out = []
        for name, w in self.spec.windows.items():
            at: Loc = ("windows", name)
            units = self.scope(w.group, w.except_, at)
            if units and not any(self.units[u].has_window for u in units):
                self.bad((*at, "group"), "no unit of this scope reports 'window_open' (its "
                         "profile has no window contact): the rule would never act")
            if w.action == "fan":
                lacking = [u for u in units if MODE_CODES["fan"] not in self.units[u].modes]
                if lacking:
                    self.bad((*at, "action"), f"{_names(lacking)} cannot be set to fan mode")
            out.append(WindowRule(
                id=f"window:{name}", name=name, units=units, priority=w.priority,
                line=self.doc.line_of(at), open_delay_s=w.open_delay_s,
                close_delay_s=w.close_delay_s, action=w.action))
        return out

    def demand(self) -> DemandConfig | None:
        d = self.spec.demand
        if d is None:
            return None
        at: Loc = ("demand",)
        meter = self.site.devices.get(d.meter)
        if meter is None:
            meters = [i for i, x in self.site.devices.items() if x.profile.kind == "meter"]
            self.bad((*at, "meter"), f"no device '{d.meter}'{suggest(d.meter, meters)}")
        elif meter.profile.kind != "meter":
            what = "an AC unit" if meter.profile.kind == "hvac" else f"a {meter.profile.kind} meter"
            self.bad((*at, "meter"), f"'{d.meter}' is {what}, not an electricity meter")
        elif d.point not in meter.profile.points:
            self.bad((*at, "point"), f"{meter.profile.id} has no point '{d.point}'"
                     f"{suggest(d.point, list(meter.profile.points))}")
        if d.deadband_kw >= d.limit_kw:
            self.bad((*at, "deadband_kw"), "must be smaller than limit_kw")
        if any(b <= a for a, b in zip(d.relief_k, d.relief_k[1:], strict=False)):
            self.bad((*at, "relief_k"), "relief levels must grow: e.g. [1, 2]")
        if not d.relief_k and not d.allow_off:
            self.bad((*at, "allow_off"), "with no relief levels and allow_off false, demand "
                     "control can do nothing")
        classes: dict[str, tuple[int, int]] = {}  # unit → (scope, class)
        for i, sc in enumerate(d.shed):
            units = self.scope(sc.group, sc.except_, (*at, "shed", i))
            for u in units:
                prev = classes.get(u)
                key = (len(units), sc.class_)
                if prev is None or key < prev:
                    classes[u] = key
        act = d.active
        return DemandConfig(
            meter=d.meter, point=d.point, limit_kw=d.limit_kw, deadband_kw=d.deadband_kw,
            window_s=d.window_min * 60.0, offset_s=d.window_offset_min * 60.0,
            confirm_s=d.confirm_s, pass_interval_s=d.pass_interval_s,
            max_units_per_pass=d.max_units_per_pass, curtail_min_s=d.curtail_s,
            release_interval_s=d.release_interval_s, release_units=d.release_units,
            relief_k=tuple(d.relief_k), allow_off=d.allow_off,
            futility_min_drop_kw=d.futility.min_drop_kw, futility_passes=d.futility.passes,
            release_estimate_kw=d.release_estimate_kw, meter_stale_s=d.meter_stale_s,
            classes={u: c for u, (_, c) in classes.items()},
            active_from=act.from_ if act else None, active_to=act.to if act else None,
            active_days=(frozenset(DayType(x) for x in act.day_types)
                         if act and act.day_types else None),
            line=self.doc.line_of(at))

    def sensors(self) -> SensorRef | None:
        s = self.spec.sensors.outdoor_temp
        if s is None:
            return None
        at: Loc = ("sensors", "outdoor_temp")
        dev = self.site.devices.get(s.device)
        if dev is None:
            self.bad((*at, "device"), f"no device '{s.device}'"
                     f"{suggest(s.device, list(self.site.devices))}")
        elif s.point not in dev.profile.points:
            self.bad((*at, "point"), f"{dev.profile.id} has no point '{s.point}'"
                     f"{suggest(s.point, list(dev.profile.points))}")
        return SensorRef(s.device, s.point, s.stale_s)


def load_rules(path: str | Path, site: Site, *, tariffs_dir: Path | None = None) -> RuleSet:
    """Load, validate and compile a rule file for ``site``.

    Raises ConfigError listing every problem (``file:line: field: message``).
    """
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "a rule file is a mapping (groups:, schedules:, "
                                            "policy: …)")])
    try:
        spec = doc.validate(RuleFile)
    except ConfigError as exc:
        raise ConfigError([_tidy(p) for p in exc.problems]) from None
    ld = _Loader(doc, spec, site, tariffs_dir)
    if spec.site is not None and spec.site != site.id:
        ld.bad(("site",), f"this rule file is for site '{spec.site}', the site file is "
                          f"'{site.id}'")
    policy = ld.policy()
    ld.build_units(policy.exemptions)
    ld.build_groups()
    calendar = ld.calendar()
    slot_rules = ld.schedules(policy) + ld.sweeps()
    ld.overlaps(slot_rules)
    tariff = ld.tariff()
    precool = ld.precool(tariff, policy)
    occupancy = ld.occupancy()
    windows = ld.windows()
    demand = ld.demand()
    outdoor = ld.sensors()
    if ld.problems:
        ld.problems.sort(key=lambda p: (p.file != doc.path, p.line or 0))
        raise ConfigError(ld.problems)
    e, o, pr, sf = spec.engine, spec.overrides, spec.protection, spec.safety
    return RuleSet(
        path=str(path), site_id=site.id, tz=site.tz, units=ld.units, groups=ld.groups,
        calendar=calendar, tariff=tariff, slot_rules=slot_rules, precool=precool,
        occupancy=occupancy, window=windows, demand=demand,
        protection=ProtectionConfig(pr.min_on_s, pr.min_off_s, pr.max_starts_per_hour,
                                    pr.changeover_delay_s, pr.restart_stagger_s,
                                    pr.comms_lost_s),
        safety=SafetyConfig(sf.kill_switch, sf.stale_after_s),
        overrides=OverrideConfig(o.default_min * 60, o.max_min * 60, o.end_at_next_slot),
        engine=EngineConfig(e.tick_s, e.max_attempts, e.retry_after_alarm_min * 60,
                            e.write_ttl_s),
        policy=policy, outdoor=outdoor, files=tuple(ld.files),
        digest=_digest(doc.data))

