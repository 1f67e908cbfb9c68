"""A validated rule set, compiled for the control engine: plain objects, nothing to re-check.

``rules.load_rules`` builds it from a rule file and the site; the engine,
``explain`` and ``plan`` only read it. Every rule knows the units it covers
(``units``), how many (``scope``, the tie-breaker "narrower wins") and the line
it was written on, for explanations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

from gateway.core.calendar import DayType, SiteCalendar
from gateway.core.policy import SetpointPolicy
from gateway.core.tou import TariffPeriods
from gateway.ev.charging_rules import ChargingRules

#: the four points the control loop commands, in this order everywhere
POINTS: tuple[str, ...] = ("power", "mode", "setpoint_c", "fan")
POWER, MODE, SETPOINT, FAN = 0, 1, 2, 3

Values = tuple[int | None, int | None, float | None, int | None]

#: precedence layers, highest first (docs/rules.md "Precedence")
(SAFETY, PROTECTION, CLAMP, WINDOW, DEMAND, OVERRIDE, OCCUPANCY, COMFORT, TARIFF, START,
 SCHEDULE) = range(11)
LAYER_NAMES: tuple[str, ...] = ("safety", "protection", "clamp", "window", "demand", "override",
                                "occupancy", "comfort", "tariff", "start", "schedule")


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """One AC unit of the site as the rules see it."""

    id: str
    zone: str | None
    tags: Mapping[str, str]
    groups: frozenset[str]
    #: the reason it is exempt from the regulatory limits, or None
    exempt: str | None
    #: standard mode / fan codes its profile can write
    modes: frozenset[int]
    fans: frozenset[int]
    writable: frozenset[str]
    sp_min: float
    sp_max: float
    area_m2: float | None
    #: groups that matter to the calendar (group-scoped closures)
    cal_groups: frozenset[str]
    has_occupancy: bool
    has_window: bool


@dataclass(frozen=True, slots=True)
class Entry:
    """One step of a timeline: from ``minute`` on, these values (None: not said)."""

    minute: int
    values: Values
    index: int
    line: int | None
    note: str | None = None

    @property
    def hhmm(self) -> str:
        return f"{self.minute // 60:02d}:{self.minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class Condition:
    """An outdoor-temperature condition; ``if_unknown`` decides when no reading is fresh."""

    outdoor_above_c: float | None = None
    outdoor_below_c: float | None = None
    if_unknown: bool = False

    def holds(self, outdoor_c: float | None) -> bool:
        if outdoor_c is None:
            return self.if_unknown
        if self.outdoor_above_c is not None and not outdoor_c > self.outdoor_above_c:
            return False
        return not (self.outdoor_below_c is not None and not outdoor_c < self.outdoor_below_c)

    def text(self) -> str:
        parts = []
        if self.outdoor_above_c is not None:
            parts.append(f"outdoor > {self.outdoor_above_c:g} °C")
        if self.outdoor_below_c is not None:
            parts.append(f"outdoor < {self.outdoor_below_c:g} °C")
        return " and ".join(parts) or "always"


@dataclass(eq=False, slots=True)
class ScopedRule:
    id: str
    name: str
    units: frozenset[str]
    priority: int
    line: int | None

    @property
    def scope(self) -> int:
        return len(self.units)


@dataclass(eq=False, slots=True)
class SlotRule(ScopedRule):
    """A schedule or an after-hours sweep: timelines of steps per day type."""

    kind: Literal["schedule", "sweep"] = "schedule"
    #: always: enforced every tick; slot: applied when the step begins (and at start-up),
    #: then local changes stand until the next step
    hold_always: bool = False
    months: frozenset[int] | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    when: Condition | None = None
    days: Mapping[DayType, tuple[Entry, ...]] = field(default_factory=dict)
    digest: str = ""

    def valid_on(self, day: date) -> bool:
        if self.months is not None and day.month not in self.months:
            return False
        if self.valid_from is not None and day < self.valid_from:
            return False
        return not (self.valid_to is not None and day > self.valid_to)


@dataclass(eq=False, slots=True)
class PrecoolRule(ScopedRule):
    months: frozenset[int] | None = None
    day_types: frozenset[DayType] = frozenset()
    start: int = 0
    end: int = 0
    setpoint_c: float | None = None
    switch_on: bool = False
    #: setpoint while the tariff is in peak or sharp (the float after pre-cooling)
    peak_setpoint_c: float | None = None
    min_outdoor_c: float | None = None
    outdoor_unknown_runs: bool = False


@dataclass(eq=False, slots=True)
class OptimalStartRule(ScopedRule):
    """Warm up (heat) or cool down (cool) before ``occupied`` so that each room reaches
    ``reach_c`` on time, starting each unit as late as its learned warm-up (cool-down) model
    allows but not before ``earliest``, at most ``max_concurrent`` at full power at once."""

    heating: bool = True
    months: frozenset[int] | None = None
    day_types: frozenset[DayType] = frozenset()
    earliest: int = 0
    occupied: int = 0
    setpoint_c: float = 20.0
    reach_c: float = 18.0
    rate_k_per_h: float = 2.0
    margin_min: float = 20.0
    max_concurrent: int | None = None
    mode_code: int = 0


@dataclass(eq=False, slots=True)
class ComfortGuardRule(ScopedRule):
    """Feedback on the measured room temperature while a unit runs in its occupied hours:
    the setpoint is stepped towards comfort before people reach for the remote."""

    months: frozenset[int] | None = None
    day_types: frozenset[DayType] = frozenset()
    start: int = 0
    end: int = 0
    #: cooling: step down when the room is above; heating: step up when below
    cooling_high_c: float = 27.6
    heating_low_c: float = 18.4
    step_k: float = 0.5
    max_k: float = 2.0
    interval_s: float = 600.0
    hysteresis_k: float = 0.5


@dataclass(eq=False, slots=True)
class OccupancyRule(ScopedRule):
    vacant_s: float = 900.0
    occupied_s: float = 60.0
    action: Literal["off", "relax"] = "relax"
    relax_k: float = 2.0


@dataclass(eq=False, slots=True)
class WindowRule(ScopedRule):
    open_delay_s: float = 60.0
    close_delay_s: float = 300.0
    action: Literal["off", "fan"] = "off"


@dataclass(frozen=True, slots=True)
class DemandConfig:
    meter: str
    point: str
    limit_kw: float
    deadband_kw: float
    window_s: float
    offset_s: float
    confirm_s: float
    pass_interval_s: float
    max_units_per_pass: int
    curtail_min_s: float
    release_interval_s: float
    release_units: int
    relief_k: tuple[float, ...]
    allow_off: bool
    futility_min_drop_kw: float
    futility_passes: int
    release_estimate_kw: float
    meter_stale_s: float
    #: unit → shed class (1 first); units not listed are never shed
    classes: Mapping[str, int]
    active_from: int | None = None
    active_to: int | None = None
    active_days: frozenset[DayType] | None = None
    line: int | None = None

    @property
    def max_level(self) -> int:
        return len(self.relief_k) + (1 if self.allow_off else 0)


@dataclass(frozen=True, slots=True)
class ProtectionConfig:
    min_on_s: float = 300.0
    min_off_s: float = 300.0
    max_starts_per_hour: int = 6
    changeover_delay_s: float = 600.0
    restart_stagger_s: float = 120.0
    comms_lost_s: float = 120.0


@dataclass(frozen=True, slots=True)
class SafetyConfig:
    kill_switch: bool = False
    stale_after_s: float = 120.0


@dataclass(frozen=True, slots=True)
class OverrideConfig:
    default_s: float = 7200.0
    max_s: float = 8 * 3600.0
    end_at_next_slot: bool = True


@dataclass(frozen=True, slots=True)
class EngineConfig:
    tick_s: float = 10.0
    max_attempts: int = 3
    retry_after_alarm_s: float = 900.0
    write_ttl_s: float = 30.0


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    cooling_min_c: float = 26.0
    heating_max_c: float = 20.0
    cooling_months: frozenset[int] = frozenset(range(5, 11))
    #: zone → reason
    exemptions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SensorRef:
    device: str
    point: str
    stale_s: float


@dataclass(eq=False)
class RuleSet:
    path: str
    site_id: str
    tz: ZoneInfo
    units: dict[str, UnitInfo]
    groups: dict[str, frozenset[str]]
    calendar: SiteCalendar
    tariff: TariffPeriods | None
    slot_rules: list[SlotRule]
    precool: list[PrecoolRule]
    occupancy: list[OccupancyRule]
    window: list[WindowRule]
    demand: DemandConfig | None
    protection: ProtectionConfig
    safety: SafetyConfig
    overrides: OverrideConfig
    engine: EngineConfig
    policy: PolicyConfig
    outdoor: SensorRef | None
    optimal_start: list[OptimalStartRule] = field(default_factory=list)
    comfort_guard: list[ComfortGuardRule] = field(default_factory=list)
    #: the car park's rules (comfort windows, departures, valley first), None: none given
    charging: ChargingRules | None = None
    #: files the set was built from (the rule file, the tariff file), for reloads
    files: tuple[str, ...] = ()
    digest: str = ""
    #: per unit, the rules of each layer that cover it, narrowest (then highest priority) first
    slot_by_unit: dict[str, tuple[SlotRule, ...]] = field(default_factory=dict)
    precool_by_unit: dict[str, tuple[PrecoolRule, ...]] = field(default_factory=dict)
    occupancy_by_unit: dict[str, tuple[OccupancyRule, ...]] = field(default_factory=dict)
    window_by_unit: dict[str, tuple[WindowRule, ...]] = field(default_factory=dict)
    start_by_unit: dict[str, tuple[OptimalStartRule, ...]] = field(default_factory=dict)
    guard_by_unit: dict[str, tuple[ComfortGuardRule, ...]] = field(default_factory=dict)
    #: the schedules' picks by (schedules, calendar groups, day, minute, conditions):
    #: base_schedule's memory, keyed by the identity of this set's own schedule tuples:
    #: never copied (init=False: dataclasses.replace and a reload start afresh)
    pick_memory: dict[tuple[Any, ...], Sequence[Any]] = field(default_factory=dict, repr=False,
                                                              init=False)

    def __post_init__(self) -> None:
        interned: dict[tuple[int, ...], tuple[SlotRule, ...]] = {}
        for uid in self.units:
            mine = tuple(sorted((r for r in self.slot_rules if uid in r.units), key=rank))
            key = tuple(id(r) for r in mine)
            self.slot_by_unit[uid] = interned.setdefault(key, mine)
            self.precool_by_unit[uid] = tuple(sorted(
                (r for r in self.precool if uid in r.units), key=rank))
            self.occupancy_by_unit[uid] = tuple(sorted(
                (r for r in self.occupancy if uid in r.units), key=rank))
            self.window_by_unit[uid] = tuple(sorted(
                (r for r in self.window if uid in r.units), key=rank))
            self.start_by_unit[uid] = tuple(sorted(
                (r for r in self.optimal_start if uid in r.units), key=rank))
            self.guard_by_unit[uid] = tuple(sorted(
                (r for r in self.comfort_guard if uid in r.units), key=rank))

    def setpoint_policy(self) -> SetpointPolicy:
        """The same limits as a ``gateway.policy.SetpointPolicy`` for the MQTT command path."""
        return SetpointPolicy(self.policy.cooling_min_c, self.policy.heating_max_c,
                              dict(self.policy.exemptions))


def rank(rule: ScopedRule) -> tuple[int, int, str]:
    """Tie order inside a layer: narrower scope, then higher priority (then name, stable)."""
    return (rule.scope, -rule.priority, rule.id)
