"""Pure: the control engine's state and value types, and the ``Proposal`` the layers pass along.

The engine keeps a ``UnitState`` per unit (its latest reading, what was written,
the layers' hysteresis) and a ``Track`` per command not yet seen applied. Each
tick builds one ``Ctx`` (the facts every unit shares) and, per unit, a
``Proposal`` that every layer of ``gateway.control.layers`` may change in turn:
per point a ``Decision`` (value, layer, rule, reason) and, for ``escogw rules
explain``, the trace of every layer's ``Opinion``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from gateway.control.overrides import OverrideBook
from gateway.control.protection import NEVER, UnitHistory
from gateway.control.ruleset import FAN, MODE, POWER, SETPOINT, Entry, RuleSet, SlotRule
from gateway.control.start_plan import StartPlan
from gateway.core.semantics import FAN_CODES, MODE_CODES

Value = int | float


@dataclass(frozen=True, slots=True)
class UnitCommand:
    device: str
    point: str
    value: Value
    before: Value | None
    layer: str
    rule: str
    reason: str
    inputs: dict[str, Any]
    ttl_s: float


@dataclass(frozen=True, slots=True)
class Alarm:
    key: str
    device: str | None
    message: str
    #: True when raised, False when it clears
    active: bool
    ts: datetime


@dataclass(frozen=True, slots=True)
class Notice:
    """A decision that is not a write: an override expired, demand control shed a unit."""

    ts: datetime
    device: str | None
    rule: str
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TickResult:
    ts: datetime
    #: device → its commands in the order to send them
    commands: dict[str, list[UnitCommand]] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)

    def all_commands(self) -> list[UnitCommand]:
        return [c for cmds in self.commands.values() for c in cmds]


@dataclass(slots=True)
class Decision:
    """Who decided a point and to what: a layer (``ruleset.LAYER_NAMES``), its rule, the reason.

    ``value`` None: no command for the point (deferred, or the unit is off). Not frozen
    only because it is built in the tick's hot path; nothing changes one once made.
    """

    value: Value | None
    layer: int
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Opinion:
    """One layer's say about one point (for explanations)."""

    layer: int
    rule: str
    point: int
    value: Value | None
    reason: str
    status: str = ""


@dataclass(frozen=True, slots=True)
class SlotPick:
    """The schedules' step in force for one point: its decision, and the key of the steps it
    was chosen from (a unit's ``marks`` remember the key once the step is applied)."""

    decision: Decision
    rule: SlotRule
    key: tuple[Any, ...]
    #: the step that brought the value
    entry: Entry | None = None


NO_PICKS: tuple[SlotPick | None, ...] = (None, None, None, None)


class Proposal:
    """What the layers so far want for one unit, point by point (``ruleset.POINTS``).

    ``who[p]`` is the ``Decision`` for point p, or None when no layer spoke;
    ``current`` is what the unit has now. With a ``trace``, every say is also
    recorded as an ``Opinion`` (what ``escogw rules explain`` prints).
    """

    __slots__ = ("current", "picks", "relative", "trace", "who")

    def __init__(self, current: list[Value | None], trace: list[Opinion] | None = None):
        self.current = current
        self.who: list[Decision | None] = [None, None, None, None]
        self.trace = trace
        #: the schedules' picks (the engine marks a step applied once the unit shows it)
        self.picks: Sequence[SlotPick | None] = NO_PICKS
        #: some layer set the setpoint as an offset (relief, relax) on a base
        self.relative = False

    def value(self, point: int) -> Value | None:
        """The value to command (None: no command)."""
        decision = self.who[point]
        return None if decision is None else decision.value

    def final(self, point: int) -> Value | None:
        """What the unit will have: the value to command, else what it has now."""
        decision = self.who[point]
        if decision is not None and decision.value is not None:
            return decision.value
        return self.current[point]

    def say(self, layer: int, rule: str, point: int, value: Value | None, reason: str,
            status: str = "") -> None:
        """A layer decides a point (replacing what any lower layer said)."""
        self.adopt(point, Decision(value, layer, rule, reason), status)

    def adopt(self, point: int, decision: Decision, status: str = "") -> None:
        """``say`` with a decision made beforehand (the schedule's, cached for the tick)."""
        self.who[point] = decision
        if self.trace is not None:
            self.trace.append(Opinion(decision.layer, decision.rule, point, decision.value,
                                      decision.reason, status))

    def note(self, layer: int, rule: str, point: int, value: Value | None, reason: str,
             status: str = "") -> None:
        """An opinion for the trace only: it decides nothing."""
        if self.trace is not None:
            self.trace.append(Opinion(layer, rule, point, value, reason, status))

    def drop(self, point: int) -> None:
        """No command and no decider for the point (the unit cannot take what was asked)."""
        self.who[point] = None


class UnitState:
    __slots__ = ("anchor", "belief", "changeover_off", "cool_jump", "cool_rate", "cur", "fresh",
                 "guard_at", "guard_k", "held", "hist", "marks", "occ_since", "power_kw", "room",
                 "seq", "standby", "ts", "vac_since", "warm_day", "warm_done", "warm_from",
                 "warm_jump", "warm_mid", "warm_rate", "warm_rule", "warm_since", "win_active",
                 "win_closed_since", "win_open_since")

    def __init__(self) -> None:
        self.seq = -1
        self.ts = NEVER
        #: the latest reading's values, and what was written since (value, when)
        self.cur: list[Value | None] = [None, None, None, None]
        self.belief: list[tuple[Value, float] | None] = [None, None, None, None]
        self.room: float | None = None
        self.power_kw: float | None = None
        self.hist = UnitHistory()
        #: per point, the key of the schedule step already applied (``SlotPick.key``)
        self.marks: list[tuple[Any, ...] | None] = [None, None, None, None]
        #: bit p set: a holding layer decided point p in the last decision
        self.held = 0
        self.fresh = False
        #: the setpoint a relief or relax offset is added to while it lasts
        self.anchor: float | None = None
        self.win_open_since: float | None = None
        self.win_closed_since: float | None = None
        self.win_active = False
        self.vac_since: float | None = None
        self.occ_since: float | None = None
        self.standby = False
        #: protection switched the unit off for a cool↔heat change; switch it back on after
        self.changeover_off = False
        #: optimal start: the day and time its warm-up (cool-down) began, the rule running
        #: it, the room then and at the first reading after the run's first phase (hours
        #: into the run, °C), whether the room got
        #: there, and the model learned from its past warm-ups and cool-downs: the steady
        #: rate (K/h) and the first phase's jump (K) (gateway/control/start_plan.py)
        self.warm_day: date | None = None
        self.warm_rule: str | None = None
        self.warm_since: float | None = None
        self.warm_from: float | None = None
        self.warm_mid: tuple[float, float] | None = None
        self.warm_done = False
        self.warm_rate: float | None = None
        self.cool_rate: float | None = None
        self.warm_jump = 0.0
        self.cool_jump = 0.0
        #: comfort guard: the setpoint step in force (K, + warmer) and when it last moved
        self.guard_k = 0.0
        self.guard_at = NEVER

    def current(self, point: int) -> Value | None:
        return self.currents()[point]

    def currents(self) -> list[Value | None]:
        """What the unit has, per point: a write newer than the latest reading, else the
        reading."""
        values = self.cur.copy()
        for point, belief in enumerate(self.belief):
            if belief is not None and belief[1] > self.ts:
                values[point] = belief[0]
        return values


class Track:
    """A command sent and not yet seen applied: its attempts, and the alarm after too many."""

    __slots__ = ("alarmed", "attempts", "dry", "parked_until", "pending", "value")

    def __init__(self, value: Value):
        self.value = value
        self.attempts = 0
        self.pending = False
        self.dry = False
        self.alarmed = False
        self.parked_until = NEVER


class Ctx:
    """Facts shared by every unit in one tick: the time (site-local too), the outdoor
    temperature, the tariff period, the overrides and demand levels in force; and what
    the layers work out once per tick for all units with the same rules."""

    __slots__ = ("day", "dt", "hhmm", "levels", "local", "minute", "month", "now", "outdoor",
                 "overrides", "period", "precool", "rules", "slot_picks", "starts", "states")

    def __init__(self, now: datetime, rules: RuleSet, outdoor: float | None,
                 overrides: OverrideBook | None = None, levels: dict[str, int] | None = None,
                 states: Mapping[str, UnitState] | None = None):
        self.rules = rules
        self.dt = now
        self.now = now.timestamp()
        self.local = now.astimezone(rules.tz)
        self.day: date = self.local.date()
        self.minute = self.local.hour * 60 + self.local.minute
        self.hhmm = self.local.strftime("%H:%M")
        self.month = self.local.month
        self.outdoor = outdoor
        self.period = rules.tariff.period_at(self.local) if rules.tariff is not None else None
        self.overrides = overrides if overrides is not None else OverrideBook()
        #: unit → demand curtailment level (absent: 0)
        self.levels: dict[str, int] = levels if levels is not None else {}
        #: (schedules of a unit, its calendar groups) → the picks (base_schedule)
        self.slot_picks: dict[tuple[int, frozenset[str]], Sequence[SlotPick | None]] = {}
        #: (pre-cooling rule, calendar groups) → (power, setpoint) decisions, None: idle
        self.precool: dict[tuple[int, frozenset[str]],
                           tuple[Decision | None, Decision | None] | None] = {}
        #: every unit's state, for plans across units (optimal start)
        self.states: Mapping[str, UnitState] = states if states is not None else {}
        #: optimal-start rule id → this tick's plan (None: the rule is idle now)
        self.starts: dict[str, StartPlan | None] = {}


def same(point: int, a: Value | None, b: Value | None) -> bool:
    """Equal as the unit sees it (setpoints to 0.05 K)."""
    if a is None or b is None:
        return False
    if point == SETPOINT:
        return abs(float(a) - float(b)) < 0.05
    return int(a) == int(b)


def fmt(point: int, value: Value | None) -> str:
    if value is None:
        return "-"
    if point == POWER:
        return "on" if value else "off"
    if point == MODE:
        return next((n for n, c in MODE_CODES.items() if c == value), str(value))
    if point == FAN:
        return next((n for n, c in FAN_CODES.items() if c == value), str(value))
    return f"{float(value):g} °C"
