"""The control engine: every tick, each unit's desired state from the rules and its latest
readings, resolved through one fixed precedence; only differences become commands.

Pure: no sockets, no clock. ``tick(now, latest)`` takes the time and the newest
reading of every device and returns commands, notices and alarms; the actuator
sends the commands and reports each outcome back with ``note_outcome``. The
engine remembers what it wrote (and when), so it does not repeat a command
while the next poll has not yet shown it, counts the attempts of a command
that does not take, and raises an alarm after ``engine.max_attempts``.

Precedence, highest first (docs/rules.md):

  safety (kill switch, stale readings) → equipment protection → regulatory
  clamps → window → demand limit → operator override → occupancy standby →
  tariff optimisation → base schedule (schedules and after-hours sweeps)

A higher layer's value replaces a lower one's for that point; relief and relax
levels are offsets on what the layers below asked for; clamps bound the
setpoint for the mode the unit will run in; protection defers a switch or a
cool↔heat change; safety leaves the unit alone. Inside a layer: the narrower
scope wins, then the higher ``priority``, then the more energy-conservative
value (off before on, the warmer cooling / cooler heating setpoint, the lower
fan speed); what even that cannot order is refused when the file is loaded.

Schedules act at their steps: a step is applied when it begins (and at
start-up), then people may change the unit locally until the next step
(``hold: always`` enforces it every tick instead). When a higher layer lets go
of a unit (an override expires, a window closes, demand control releases it),
the unit goes back to its schedule's current step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control.demand import Candidate, DemandAction, DemandController
from gateway.control.overrides import Override, OverrideBook
from gateway.control.protection import (
    NEVER,
    UnitHistory,
    changeover_deferral,
    power_deferral,
    stagger_s,
)
from gateway.control.ruleset import (
    CLAMP,
    DEMAND,
    FAN,
    LAYER_NAMES,
    MODE,
    OCCUPANCY,
    OVERRIDE,
    POINTS,
    POWER,
    PROTECTION,
    SAFETY,
    SCHEDULE,
    SETPOINT,
    TARIFF,
    WINDOW,
    Entry,
    PrecoolRule,
    RuleSet,
    SlotRule,
    UnitInfo,
)
from gateway.core.calendar import DayInfo, DayType
from gateway.core.policy import COOLING_MODES, HEATING_MODES
from gateway.core.semantics import FAN_CODES, MODE_CODES

AUTO = MODE_CODES["auto"]
COOL = MODE_CODES["cool"]
HEAT = MODE_CODES["heat"]
FAN_MODE = MODE_CODES["fan"]
#: energy-conservative order (lower first) for tie-breaks
MODE_RANK = {FAN_MODE: 0, MODE_CODES["dry"]: 1, COOL: 2, HEAT: 2, AUTO: 3}
FAN_RANK = {FAN_CODES["very_low"]: 0, FAN_CODES["low"]: 1, FAN_CODES["auto"]: 2,
            FAN_CODES["medium"]: 3, FAN_CODES["high"]: 4, FAN_CODES["top"]: 5}
HOLDING_LAYERS = frozenset({WINDOW, DEMAND, OVERRIDE, OCCUPANCY, TARIFF})
LOOKBACK_DAYS = 7

Because = tuple[int, str, str]  # (layer, rule id, reason)
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


@dataclass(frozen=True, slots=True)
class SlotPick:
    value: Value
    rule: SlotRule
    entry: Entry
    key: tuple[Any, ...]
    because: Because


@dataclass(frozen=True, slots=True)
class Opinion:
    """One layer's say about one point (for explanations)."""

    layer: int
    rule: str
    point: int
    value: Value | None
    reason: str
    status: str = ""


class UnitState:
    __slots__ = ("anchor", "belief", "changeover_off", "cur", "fresh", "held", "hist", "marks",
                 "occ_since", "power_kw", "room", "seq", "standby", "ts", "vac_since",
                 "win_active", "win_closed_since", "win_open_since")

    def __init__(self) -> None:
        self.seq = -1
        self.ts = NEVER
        self.cur: list[Value | None] = [None, None, None, None]
        self.belief: list[tuple[Value, float] | None] = [None, None, None, None]
        self.room: float | None = None
        self.power_kw: float | None = None
        self.hist = UnitHistory()
        self.marks: list[tuple[Any, ...] | None] = [None, None, None, None]
        self.held = 0
        self.fresh = False
        self.anchor: float | None = None
        self.win_open_since: float | None = None
        self.win_closed_since: float | None = None
        self.win_active = False
        self.vac_since: float | None = None
        self.occ_since: float | None = None
        self.standby = False
        #: protection switched the unit off for a cool↔heat change; switch it back on after
        self.changeover_off = False


class Track:
    __slots__ = ("alarmed", "attempts", "dry", "parked_until", "pending", "value")

    def __init__(self, value: Value):
        self.value = value
        self.attempts = 0
        self.pending = False
        self.dry = False
        self.alarmed = False
        self.parked_until = NEVER


class Ctx:
    """Facts shared by every unit in one tick."""

    __slots__ = ("day", "dt", "local", "minute", "month", "now", "outdoor", "period")

    def __init__(self, now: datetime, rules: RuleSet, outdoor: float | None):
        self.dt = now
        self.now = now.timestamp()
        self.local = now.astimezone(rules.tz)
        self.day: date = self.local.date()
        self.minute = self.local.hour * 60 + self.local.minute
        self.month = self.local.month
        self.outdoor = outdoor
        self.period = rules.tariff.period_at(self.local) if rules.tariff is not None else None


def same(p: int, a: Value | None, b: Value | None) -> bool:
    if a is None or b is None:
        return False
    if p == SETPOINT:
        return abs(float(a) - float(b)) < 0.05
    return int(a) == int(b)


def fmt(p: int, v: Value | None) -> str:
    if v is None:
        return "-"
    if p == POWER:
        return "on" if v else "off"
    if p == MODE:
        return next((n for n, c in MODE_CODES.items() if c == v), str(v))
    if p == FAN:
        return next((n for n, c in FAN_CODES.items() if c == v), str(v))
    return f"{float(v):g} °C"


class ControlEngine:
    def __init__(self, rules: RuleSet):
        self.rules = rules
        self.kill_switch: str | None = "rule file: safety.kill_switch" \
            if rules.safety.kill_switch else None
        self.states: dict[str, UnitState] = {u: UnitState() for u in rules.units}
        self.overrides = OverrideBook()
        self.demand = DemandController(rules.demand) if rules.demand is not None else None
        self.tracks: dict[tuple[str, int], Track] = {}
        self.active_alarms: dict[str, Alarm] = {}
        self._slot_cache: dict[tuple[int, frozenset[str]], list[SlotPick | None]] = {}
        self._precool_cache: dict[tuple[int, frozenset[str]],
                                  tuple[float | None, bool, Because] | None] = {}
        self._alarm_day: date | None = None
        self.last_who: list[Because | None] = [None, None, None, None]
        self.last_outdoor: float | None = None

    # -- rule sets ----------------------------------------------------------------

    def replace_rules(self, rules: RuleSet) -> None:
        """Swap the rule set atomically; unit states, overrides and demand levels carry over."""
        self.rules = rules
        self.states = {u: self.states.get(u) or UnitState() for u in rules.units}
        if rules.demand is None:
            self.demand = None
        elif self.demand is None:
            self.demand = DemandController(rules.demand)
        else:
            self.demand.cfg = rules.demand
            self.demand.forget(set(rules.demand.classes))
        self.kill_switch = "rule file: safety.kill_switch" if rules.safety.kill_switch else \
            (self.kill_switch if self.kill_switch and not self.kill_switch.startswith("rule")
             else None)
        for key in [k for k in self.tracks if k[0] not in rules.units]:
            del self.tracks[key]
        self._alarm_day = None

    def set_kill_switch(self, reason: str | None) -> None:
        """Stop (reason given) or resume (None) every write of the control loop."""
        self.kill_switch = reason

    # -- overrides ----------------------------------------------------------------

    def add_override(self, device: str, values: Mapping[str, Value], now: datetime, *,
                     override_id: str, duration_s: float | None = None,
                     source: str = "mqtt", who: str | None = None,
                     note: str | None = None) -> Override:
        """Register an operator override. Raises KeyError / ValueError for bad targets."""
        unit = self.rules.units.get(device)
        if unit is None:
            raise KeyError(f"no AC unit '{device}' under control")
        pairs: list[tuple[int, Value]] = []
        for name, value in values.items():
            if name not in POINTS:
                raise ValueError(f"an override sets {', '.join(POINTS)}, not '{name}'")
            if name not in unit.writable:
                raise ValueError(f"'{name}' of {device} is not writable")
            pairs.append((POINTS.index(name), value))
        cfg = self.rules.overrides
        t = now.timestamp()
        span = min(duration_s if duration_s is not None else cfg.default_s, cfg.max_s)
        until = t + span
        if cfg.end_at_next_slot and duration_s is None:
            nxt = self.next_step(device, now)
            if nxt is not None:
                until = min(until, nxt.timestamp())
        ov = Override(override_id, device, tuple(pairs), t, until, source, who, note)
        self.overrides.add(ov)
        return ov

    def next_step(self, device: str, after: datetime) -> datetime | None:
        """When the unit's schedule next takes a step (within a week), site-local aware."""
        unit = self.rules.units[device]
        combo = self.rules.slot_by_unit.get(device, ())
        local = after.astimezone(self.rules.tz)
        minute = local.hour * 60 + local.minute
        for d in range(LOOKBACK_DAYS + 1):
            day = local.date() + timedelta(days=d)
            best: int | None = None
            dtype = self.rules.calendar.day(day, unit.cal_groups).type
            for rule in combo:
                if rule.kind != "schedule" or not rule.valid_on(day):
                    continue
                for e in rule.days.get(dtype, ()):
                    if (d > 0 or e.minute > minute) and (best is None or e.minute < best):
                        best = e.minute
            if best is not None:
                start = datetime(day.year, day.month, day.day, tzinfo=self.rules.tz)
                return start + timedelta(minutes=best)
        return None

    # -- the tick -------------------------------------------------------------------

    def tick(self, now: datetime, latest: Mapping[str, Reading],
             outdoor_c: float | None = None) -> TickResult:
        rules = self.rules
        if outdoor_c is None:
            outdoor_c = self._outdoor(latest, now)
        self.last_outdoor = outdoor_c
        ctx = Ctx(now, rules, outdoor_c)
        result = TickResult(now)
        self._slot_cache.clear()
        self._precool_cache.clear()
        if self._alarm_day != ctx.day:
            self._alarm_day = ctx.day
            msg = rules.calendar.coverage_alarm(ctx.day)
            if msg is not None:
                self._raise(result, "calendar:coverage", None, msg)
            else:
                self._clear(result, "calendar:coverage")
        for ov in self.overrides.expire(ctx.now):
            st = self.states.get(ov.device)
            if st is not None:
                st.marks = [None, None, None, None]
            result.notices.append(Notice(now, ov.device, f"override:{ov.id}",
                                         f"{ov.describe(self.rules.tz)} expired: back to the "
                                         "schedule"))
        states = self.states
        for uid, st in states.items():
            r = latest.get(uid)
            if r is not None and r.seq != st.seq:
                self._ingest(st, r)
        if self.demand is not None:
            self._demand_step(ctx, latest, result)
        kill = self.kill_switch
        if kill is not None:
            return result
        levels = self.demand.levels if self.demand is not None else {}
        for uid, u in rules.units.items():
            st = states[uid]
            cmds = self._unit(u, st, ctx, levels.get(uid, 0), result, None)
            if cmds:
                result.commands[uid] = cmds
        return result

    def tick_unit(self, device: str, now: datetime, latest: Mapping[str, Reading],
                  outdoor_c: float | None = None) -> tuple[TickResult, list[Because | None]]:
        """One unit's decision now (an operator command just arrived); the same path as tick."""
        u = self.rules.units[device]
        st = self.states[device]
        if outdoor_c is None:
            outdoor_c = self._outdoor(latest, now) if self.last_outdoor is None \
                else self.last_outdoor
        ctx = Ctx(now, self.rules, outdoor_c)
        self._slot_cache.clear()
        self._precool_cache.clear()
        result = TickResult(now)
        r = latest.get(device)
        if r is not None and r.seq != st.seq:
            self._ingest(st, r)
        self.last_who = [None, None, None, None]
        if self.kill_switch is not None:
            return result, [(SAFETY, "safety:kill-switch", f"kill switch on: {self.kill_switch}")
                            ] * 4
        level = self.demand.levels.get(device, 0) if self.demand is not None else 0
        cmds = self._unit(u, st, ctx, level, result, None)
        if cmds:
            result.commands[device] = cmds
        return result, list(self.last_who)

    def _outdoor(self, latest: Mapping[str, Reading], now: datetime) -> float | None:
        ref = self.rules.outdoor
        if ref is None:
            return None
        r = latest.get(ref.device)
        if r is None or (now - r.ts).total_seconds() > ref.stale_s:
            return None
        v = r.values.get(ref.point)
        return float(v) if isinstance(v, int | float) else None

    def _ingest(self, st: UnitState, r: Reading) -> None:
        st.seq = r.seq
        v = r.values
        pw = v.get("power")
        if pw is None:
            return
        t = r.ts.timestamp()
        if st.ts != NEVER and t - st.ts > self.rules.protection.comms_lost_s:
            st.fresh = False  # communications were lost: the restart stagger applies again
        st.ts = t
        cur = st.cur
        cur[POWER] = int(pw)
        m = v.get("mode")
        cur[MODE] = int(m) if isinstance(m, int | float) else None
        sp = v.get("setpoint_c")
        cur[SETPOINT] = float(sp) if isinstance(sp, int | float) else None
        f = v.get("fan")
        cur[FAN] = int(f) if isinstance(f, int | float) else None
        room = v.get("room_temp_c")
        st.room = float(room) if isinstance(room, int | float) else None
        kw = v.get("power_kw")
        st.power_kw = float(kw) if isinstance(kw, int | float) else None
        b = st.belief[POWER]
        if b is None or b[1] <= t:
            st.hist.switched(int(pw), t)
        mode_code = cur[MODE]
        st.hist.running(int(pw), int(mode_code) if mode_code is not None else None, t)
        wo = v.get("window_open")
        if wo is not None:
            st.win_open_since, st.win_closed_since = _since(
                bool(wo), st.win_open_since, st.win_closed_since, t)
        occ = v.get("occupied")
        if occ is not None:
            st.occ_since, st.vac_since = _since(bool(occ), st.occ_since, st.vac_since, t)

    # -- demand -----------------------------------------------------------------------

    def demand_active(self, ctx: Ctx) -> bool:
        cfg = self.rules.demand
        if cfg is None:
            return False
        if cfg.active_days is not None and \
                self.rules.calendar.day(ctx.day).type not in cfg.active_days:
            return False
        if cfg.active_from is not None and cfg.active_to is not None:
            return cfg.active_from <= ctx.minute < cfg.active_to
        return True

    def _demand_step(self, ctx: Ctx, latest: Mapping[str, Reading], result: TickResult) -> None:
        dc = self.demand
        cfg = self.rules.demand
        assert dc is not None and cfg is not None
        r = latest.get(cfg.meter)
        if r is not None:
            kw = r.values.get(cfg.point)
            if isinstance(kw, int | float):
                dc.observe(r.ts.timestamp(), float(kw))

        def candidates() -> list[Candidate]:
            out = []
            for uid, cls in cfg.classes.items():
                st = self.states.get(uid)
                if st is None or ctx.now - st.ts > self.rules.safety.stale_after_s:
                    continue
                pw = self._current(st, POWER)
                mode = self._current(st, MODE)
                sp = self._current(st, SETPOINT)
                margin = 0.0
                if st.room is not None and sp is not None:
                    margin = st.room - float(sp) if mode in HEATING_MODES else \
                        float(sp) - st.room
                load = st.power_kw if st.power_kw is not None else cfg.release_estimate_kw
                out.append(Candidate(uid, cls, pw == 1 and mode != FAN_MODE, margin, load))
            return out

        actions = dc.step(ctx.now, self.demand_active(ctx), candidates)
        for a in actions:
            self._demand_notice(ctx, a, result)
        if dc.futile:
            self._raise(result, "demand:futile", cfg.meter,
                        f"demand: shedding does not move the meter ({cfg.futility_passes} "
                        f"passes without a {cfg.futility_min_drop_kw:g} kW drop); stopped "
                        "shedding until the next window")
        else:
            self._clear(result, "demand:futile")
        if dc.projected_kw is None and self.demand_active(ctx):
            self._raise(result, "demand:meter", cfg.meter,
                        f"demand: no fresh reading of {cfg.meter}.{cfg.point} (stale after "
                        f"{cfg.meter_stale_s:g} s); holding, shedding nothing new")
        else:
            self._clear(result, "demand:meter")

    def _demand_notice(self, ctx: Ctx, a: DemandAction, result: TickResult) -> None:
        dc = self.demand
        assert dc is not None
        result.notices.append(Notice(ctx.dt, a.unit, "demand", a.reason, {
            "level_before": a.before, "level_after": a.after,
            "projected_kw": None if dc.projected_kw is None else round(dc.projected_kw, 2),
            "meter_kw": dc.last_kw}))

    # -- one unit -------------------------------------------------------------------

    @staticmethod
    def _current(st: UnitState, p: int) -> Value | None:
        b = st.belief[p]
        if b is not None and b[1] > st.ts:
            return b[0]
        return st.cur[p]

    def _unit(self, u: UnitInfo, st: UnitState, ctx: Ctx, level: int, result: TickResult,
              trace: list[Opinion] | None) -> list[UnitCommand]:
        rules = self.rules
        now = ctx.now
        if now - st.ts > rules.safety.stale_after_s:
            st.fresh = False
            if trace is not None:
                trace.append(Opinion(SAFETY, "safety:stale", POWER, None,
                                     "no fresh reading: the unit is left alone",
                                     "decides"))
            return []
        if not st.fresh:
            st.fresh = True
            st.hist.hold_starts_until = now + stagger_s(u.id, now,
                                                        rules.protection.restart_stagger_s)
        want, who, picks = self.decide(u, st, ctx, level, trace)
        self.last_who = who
        held = 0
        for p in range(4):
            w = who[p]
            if w is not None and w[0] in HOLDING_LAYERS:
                held |= 1 << p
        if st.held & ~held:
            st.marks = [None, None, None, None]  # a hold ended: back to the current step
        st.held = held
        cmds: list[UnitCommand] | None = None
        inputs: dict[str, Any] | None = None
        tracks = self.tracks
        for p in range(4):
            v = want[p]
            if v is None:
                continue
            c = self._current(st, p)
            w = who[p]
            assert w is not None
            if same(p, c, v):
                if w[0] == SCHEDULE:
                    pk = picks[p]
                    if pk is not None:
                        st.marks[p] = pk.key
                tr = tracks.pop((u.id, p), None)
                if tr is not None and tr.alarmed:
                    self._clear(result, f"write:{u.id}:{POINTS[p]}")
                continue
            key = (u.id, p)
            tr = tracks.get(key)
            if tr is not None and same(p, tr.value, v):
                if tr.pending or tr.dry:
                    continue
                if tr.attempts >= rules.engine.max_attempts:
                    if now < tr.parked_until:
                        continue
                    tr.attempts = 0
            else:
                tr = tracks[key] = Track(v)
            tr.pending = True
            if cmds is None:
                cmds = []
            if inputs is None:
                inputs = self._inputs(u, st, ctx, level)
            cmds.append(UnitCommand(u.id, POINTS[p], v, c, LAYER_NAMES[w[0]], w[1], w[2],
                                inputs, rules.engine.write_ttl_s))
        if cmds and len(cmds) > 1:
            # switching on: settings first, then power; switching off: power first
            on = want[POWER] == 1
            cmds.sort(key=lambda c: (c.point == "power") if on else (c.point != "power"))
        return cmds or []

    def _inputs(self, u: UnitInfo, st: UnitState, ctx: Ctx, level: int) -> dict[str, Any]:
        out: dict[str, Any] = {"room_temp_c": st.room,
                               "day_type": self.rules.calendar.day(ctx.day, u.cal_groups).type
                               .value, "local_time": ctx.local.strftime("%H:%M")}
        if ctx.outdoor is not None:
            out["outdoor_temp_c"] = ctx.outdoor
        if ctx.period is not None:
            out["tariff_period"] = ctx.period
        if level and self.demand is not None:
            out["demand_level"] = level
            out["projected_kw"] = None if self.demand.projected_kw is None else \
                round(self.demand.projected_kw, 2)
        return out

    def decide(self, u: UnitInfo, st: UnitState, ctx: Ctx, level: int,
               trace: list[Opinion] | None = None
               ) -> tuple[list[Value | None], list[Because | None], list[SlotPick | None]]:
        """The unit's desired values after every layer, who decided each, and the schedule's picks.

        A None value means "no command for this point".
        """
        rules = self.rules
        cur = [self._current(st, p) for p in range(4)]
        want: list[Value | None] = [None, None, None, None]
        who: list[Because | None] = [None, None, None, None]

        # 9. base schedule (schedules and sweeps)
        combo = rules.slot_by_unit[u.id]
        picks: list[SlotPick | None] = [None, None, None, None]
        if combo:
            ck = (id(combo), u.cal_groups)
            cached = self._slot_cache.get(ck)
            if cached is None:
                cached = self._slot_cache[ck] = self._slot_picks(combo, u, ctx)
            picks = cached
            for p in range(4):
                pk = picks[p]
                if pk is None:
                    continue
                armed = pk.rule.hold_always or st.marks[p] != pk.key
                if armed:
                    want[p] = pk.value
                    who[p] = pk.because
                if trace is not None:
                    trace.append(Opinion(SCHEDULE, pk.rule.id, p, pk.value, pk.because[2],
                                         "" if armed else "already applied at its step; local "
                                         "changes stand until the next step"))

        def say(layer: int, rule: str, p: int, value: Value | None, reason: str,
                status: str = "") -> None:
            want[p] = value
            who[p] = (layer, rule, reason)
            if trace is not None:
                trace.append(Opinion(layer, rule, p, value, reason, status))

        # 8. tariff optimisation (pre-cooling, peak float)
        for prule in rules.precool_by_unit[u.id]:
            pk2 = (id(prule), u.cal_groups)
            if pk2 in self._precool_cache:
                pc = self._precool_cache[pk2]
            else:
                pc = self._precool_cache[pk2] = self._precool(prule, u, ctx)
            if pc is None:
                if trace is not None:
                    trace.append(Opinion(TARIFF, prule.id, SETPOINT, None,
                                         self._precool_idle(prule, u, ctx)))
                continue
            sp, on, because = pc
            if on:
                say(TARIFF, prule.id, POWER, 1, because[2])
            if sp is not None:
                say(TARIFF, prule.id, SETPOINT, sp, because[2])
            break

        mode_now = want[MODE] if want[MODE] is not None else cur[MODE]
        sign = -1.0 if mode_now in HEATING_MODES else 1.0
        relative = False

        # 7. occupancy standby
        occ_rules = rules.occupancy_by_unit[u.id]
        if occ_rules:
            orule = occ_rules[0]
            if st.standby:
                if st.occ_since is not None and ctx.now - st.occ_since >= orule.occupied_s:
                    st.standby = False
            elif st.vac_since is not None and ctx.now - st.vac_since >= orule.vacant_s:
                st.standby = True
            if st.standby:
                vac = f"vacant since {_hhmm(st.vac_since, rules)}" if st.vac_since else "vacant"
                if orule.action == "off":
                    say(OCCUPANCY, orule.id, POWER, 0, f"{vac}: standby off")
                else:
                    base = want[SETPOINT]
                    if base is None:
                        base = self._anchor(st, cur[SETPOINT])
                    if base is not None:
                        relative = True
                        say(OCCUPANCY, orule.id, SETPOINT, float(base) + sign * orule.relax_k,
                            f"{vac}: standby, setpoint relaxed {sign * orule.relax_k:+g} K")

        # 6. operator override
        for p, ov in self.overrides.of(u.id).items():
            v = next(val for q, val in ov.values if q == p)
            say(OVERRIDE, f"override:{ov.id}", p, v, ov.describe(rules.tz))
        if want[MODE] is not None:
            mode_now = want[MODE]
            sign = -1.0 if mode_now in HEATING_MODES else 1.0

        # 5. demand limit
        if level:
            dcfg = rules.demand
            assert dcfg is not None
            if level > len(dcfg.relief_k):
                say(DEMAND, "demand", POWER, 0,
                    f"demand limit {dcfg.limit_kw:g} kW: shed (level {level}, off)")
            else:
                k = dcfg.relief_k[level - 1]
                base = want[SETPOINT]
                if base is None:
                    base = self._anchor(st, cur[SETPOINT])
                if base is not None:
                    relative = True
                    say(DEMAND, "demand", SETPOINT, float(base) + sign * k,
                        f"demand limit {dcfg.limit_kw:g} kW: setpoint relief {sign * k:+g} K "
                        f"(level {level})")
        if not relative:
            st.anchor = None

        # 4. window
        win_rules = rules.window_by_unit[u.id]
        if win_rules:
            wrule = win_rules[0]
            if st.win_active:
                if st.win_closed_since is not None and \
                        ctx.now - st.win_closed_since >= wrule.close_delay_s:
                    st.win_active = False
            elif st.win_open_since is not None and \
                    ctx.now - st.win_open_since >= wrule.open_delay_s:
                st.win_active = True
            if st.win_active:
                if wrule.action == "off":
                    say(WINDOW, wrule.id, POWER, 0, "window open: unit off")
                else:
                    say(WINDOW, wrule.id, MODE, FAN_MODE, "window open: fan only")

        # 3. regulatory clamps (and the device's own range)
        power = want[POWER] if want[POWER] is not None else cur[POWER]
        mode = want[MODE] if want[MODE] is not None else cur[MODE]
        pol = rules.policy
        if u.exempt is None and power == 1:
            if mode == AUTO:
                mode = COOL if ctx.month in pol.cooling_months else HEAT
                say(CLAMP, "clamp:no-auto", MODE, mode, "auto mode may cool below the floor or "
                    f"heat above the ceiling: set to {fmt(MODE, mode)} for the season")
            sp_now = want[SETPOINT] if want[SETPOINT] is not None else cur[SETPOINT]
            if sp_now is not None and mode is not None:
                asked = who[SETPOINT]
                src = asked[1] if asked is not None else "the unit's own setting"
                if mode in COOLING_MODES and sp_now < pol.cooling_min_c - 1e-6:
                    say(CLAMP, "clamp:cooling-floor", SETPOINT, pol.cooling_min_c,
                        f"cooling setpoint {float(sp_now):g} °C (from {src}) raised to the "
                        f"{pol.cooling_min_c:g} °C floor")
                elif mode in HEATING_MODES and sp_now > pol.heating_max_c + 1e-6:
                    say(CLAMP, "clamp:heating-ceiling", SETPOINT, pol.heating_max_c,
                        f"heating setpoint {float(sp_now):g} °C (from {src}) lowered to the "
                        f"{pol.heating_max_c:g} °C ceiling")
        sp_want = want[SETPOINT]
        if sp_want is not None and not u.sp_min <= sp_want <= u.sp_max:
            bounded = min(max(float(sp_want), u.sp_min), u.sp_max)
            say(CLAMP, "clamp:device-range", SETPOINT, bounded, f"{float(sp_want):g} °C is "
                f"outside the unit's range {u.sp_min:g}-{u.sp_max:g} °C: {bounded:g} °C")
        mode_want = want[MODE]
        if mode_want is not None and mode_want not in u.modes:
            say(CLAMP, "clamp:device-modes", MODE, None,
                f"the unit cannot run {fmt(MODE, mode_want)}")
            who[MODE] = None
        if want[FAN] is not None and want[FAN] not in u.fans:
            want[FAN] = who[FAN] = None

        # 2. equipment protection
        prot = rules.protection
        h = st.hist
        mode_want = want[MODE]
        if mode_want is not None and cur[MODE] is not None and mode_want != cur[MODE]:
            why = changeover_deferral(prot, h, int(mode_want), ctx.now, rules.tz)
            if why is not None:
                say(PROTECTION, "protection:changeover", MODE, None, why, "deferred")
                if cur[POWER] == 1:
                    say(PROTECTION, "protection:changeover", POWER, 0,
                        f"off while the mode change waits: {why}")
                    st.changeover_off = True
                elif want[POWER] == 1:
                    say(PROTECTION, "protection:changeover", POWER, None, why, "deferred")
            elif st.changeover_off and want[POWER] is None and cur[POWER] == 0:
                say(PROTECTION, "protection:changeover", POWER, 1,
                    "changeover delay over: back on in the new mode")
        decider = who[POWER]
        mine = decider is not None and decider[1] == "protection:changeover"
        if st.changeover_off and not mine and (cur[POWER] == 1 or want[POWER] is not None):
            st.changeover_off = False  # on again, or another layer decides the power now
        power_want = want[POWER]
        if power_want is not None and cur[POWER] is not None and power_want != cur[POWER]:
            why = power_deferral(prot, h, int(power_want), ctx.now, rules.tz)
            if why is not None:
                say(PROTECTION, "protection", POWER, None, why, "deferred")

        # an off unit gets only its power command
        final_power = want[POWER] if want[POWER] is not None else cur[POWER]
        if final_power != 1:
            if trace is not None:
                for p in (MODE, SETPOINT, FAN):
                    w = who[p]
                    if want[p] is not None and w is not None:
                        trace.append(Opinion(w[0], w[1], p, want[p],
                                             "not sent: the unit is (to be) off", "suppressed"))
            want[MODE] = want[SETPOINT] = want[FAN] = None
        return want, who, picks

    def _anchor(self, st: UnitState, sp: Value | None) -> float | None:
        if st.anchor is None and sp is not None:
            st.anchor = float(sp)
        return st.anchor

    # -- schedules --------------------------------------------------------------------

    def _entry_for(self, rule: SlotRule, p: int, u: UnitInfo,
                   ctx: Ctx) -> tuple[Entry, date, DayInfo] | None:
        """The step in force for point p: today's last step that sets it, else an earlier day's."""
        cal = self.rules.calendar
        for back in range(LOOKBACK_DAYS + 1):
            day = ctx.day - timedelta(days=back) if back else ctx.day
            if not rule.valid_on(day):
                return None
            info = cal.day(day, u.cal_groups)
            entries = rule.days.get(info.type)
            if entries:
                limit = ctx.minute if back == 0 else 1440
                for e in reversed(entries):
                    if e.minute <= limit and e.values[p] is not None:
                        return e, day, info
        return None

    def _slot_picks(self, combo: tuple[SlotRule, ...], u: UnitInfo,
                    ctx: Ctx) -> list[SlotPick | None]:
        picks: list[SlotPick | None] = [None, None, None, None]
        cands: list[list[tuple[SlotRule, Entry, date, DayInfo]]] = [[], [], [], []]
        for rule in combo:
            if rule.when is not None and not rule.when.holds(ctx.outdoor):
                continue
            for p in range(4):
                found = self._entry_for(rule, p, u, ctx)
                if found is not None:
                    cands[p].append((rule, *found))
        mode: Value | None = None
        for p in (POWER, MODE, SETPOINT, FAN):
            cs = cands[p]
            if not cs:
                continue
            top = cs[0][0]
            tied = [c for c in cs if c[0].scope == top.scope and c[0].priority == top.priority]
            if len(tied) > 1:
                if p == POWER:
                    choice = min(tied, key=lambda c: c[1].values[p] or 0)
                elif p == MODE:
                    choice = min(tied, key=lambda c: MODE_RANK.get(int(c[1].values[p] or 0), 9))
                elif p == SETPOINT:
                    heating = mode in HEATING_MODES
                    choice = min(tied, key=lambda c: (c[1].values[p] or 0.0) if heating
                                 else -(c[1].values[p] or 0.0))
                else:
                    choice = min(tied, key=lambda c: FAN_RANK.get(int(c[1].values[p] or 0), 9))
            else:
                choice = cs[0]
            value = choice[1].values[p]
            assert value is not None
            # credit the rule whose step brought this value most recently (a sweep at 21:00
            # rather than the 18:00 step of a narrower schedule that agrees with it)
            agree = [c for c in cs if same(p, c[1].values[p], value)]
            credit = max(agree, key=lambda c: (c[2].toordinal(), c[1].minute))
            rule, e, day, info = credit
            if p == MODE:
                mode = value
            key = tuple((c[0].id, c[0].digest, c[2].toordinal(), c[1].index) for c in cs)
            when = f"{info.type.value} step {e.hhmm}" if day == ctx.day else \
                f"{info.type.value} step {e.hhmm} of {day.isoformat()}"
            reason = f"{rule.kind} '{rule.name}': {when}"
            if e.note:
                reason += f" ({e.note})"
            if credit is not choice:
                reason += f"; agrees with {choice[0].kind} '{choice[0].name}'"
            elif len(cs) > 1:
                others = ", ".join(c[0].name for c in cs if c is not choice)
                if len(tied) > 1:
                    why = "same scope and priority: the more energy-conservative value"
                elif cs[1][0].scope > top.scope:
                    why = "narrower scope"
                else:
                    why = "higher priority"
                reason += f"; over {others} ({why})"
            picks[p] = SlotPick(value, rule, e, key, (SCHEDULE, rule.id, reason))
        return picks

    # -- tariff optimisation ------------------------------------------------------------

    def _precool(self, rule: PrecoolRule, u: UnitInfo,
                 ctx: Ctx) -> tuple[float | None, bool, Because] | None:
        if rule.months is not None and ctx.month not in rule.months:
            return None
        if self.rules.calendar.day(ctx.day, u.cal_groups).type not in rule.day_types:
            return None
        if rule.min_outdoor_c is not None:
            if ctx.outdoor is None:
                if not rule.outdoor_unknown_runs:
                    return None
            elif ctx.outdoor < rule.min_outdoor_c:
                return None
        out = f", outdoor {ctx.outdoor:g} °C" if ctx.outdoor is not None else ""
        if rule.start <= ctx.minute < rule.end and rule.setpoint_c is not None:
            return rule.setpoint_c, rule.switch_on, (
                TARIFF, rule.id, f"pre-cooling in the {ctx.period or 'cheap'} period "
                f"{_mm(rule.start)}-{_mm(rule.end)} to {rule.setpoint_c:g} °C{out}")
        if rule.peak_setpoint_c is not None and ctx.period in ("peak", "sharp") \
                and ctx.minute >= rule.end:
            return rule.peak_setpoint_c, False, (
                TARIFF, rule.id, f"{ctx.period} tariff period: float to "
                f"{rule.peak_setpoint_c:g} °C after pre-cooling{out}")
        return None

    def _precool_idle(self, rule: PrecoolRule, u: UnitInfo, ctx: Ctx) -> str:
        if rule.months is not None and ctx.month not in rule.months:
            return "not in its months"
        dtype = self.rules.calendar.day(ctx.day, u.cal_groups).type
        if dtype not in rule.day_types:
            return f"not on a {dtype.value}"
        if rule.min_outdoor_c is not None:
            if ctx.outdoor is None and not rule.outdoor_unknown_runs:
                return "skipped: outdoor temperature unknown"
            if ctx.outdoor is not None and ctx.outdoor < rule.min_outdoor_c:
                return f"skipped: mild day (outdoor {ctx.outdoor:g} < {rule.min_outdoor_c:g} °C)"
        return f"outside its window {_mm(rule.start)}-{_mm(rule.end)} and not in a peak"

    # -- outcomes and alarms ------------------------------------------------------------

    def note_outcome(self, cmd: UnitCommand, outcome: WriteOutcome, at: datetime) -> list[Alarm]:
        """The actuator reports a write's outcome; returns alarms raised or cleared."""
        st = self.states.get(cmd.device)
        if st is None:
            return []
        p = POINTS.index(cmd.point)
        t = at.timestamp()
        key = (cmd.device, p)
        tr = self.tracks.get(key)
        alarms: list[Alarm] = []
        if outcome.ok:
            value = outcome.applied if isinstance(outcome.applied, int | float) else cmd.value
            st.belief[p] = (value, t)
            if p == POWER:
                st.hist.switched(int(value), t)
            pw = self._current(st, POWER)
            st.hist.running(int(pw) if pw is not None else None,
                            int(m) if (m := self._current(st, MODE)) is not None else None, t)
            if tr is not None and same(p, tr.value, cmd.value):
                del self.tracks[key]
                if tr.alarmed:
                    alarms.extend(self._clear_direct(f"write:{cmd.device}:{cmd.point}", at))
            return alarms
        if tr is None or not same(p, tr.value, cmd.value):
            return alarms
        tr.pending = False
        tr.attempts += 1
        if tr.attempts >= self.rules.engine.max_attempts:
            tr.parked_until = t + self.rules.engine.retry_after_alarm_s
            if not tr.alarmed:
                tr.alarmed = True
                alarms.extend(self._raise_direct(
                    f"write:{cmd.device}:{cmd.point}", cmd.device,
                    f"{cmd.device}.{cmd.point} = {fmt(p, cmd.value)} not applied after "
                    f"{tr.attempts} attempts ({outcome.error}); rule {cmd.rule}; retrying in "
                    f"{self.rules.engine.retry_after_alarm_s / 60:g} min", at))
        return alarms

    def note_dry_run(self, cmd: UnitCommand) -> None:
        """Dry run: the command was reported, not written; do not repeat it."""
        tr = self.tracks.get((cmd.device, POINTS.index(cmd.point)))
        if tr is not None:
            tr.pending = False
            tr.dry = True

    def raise_alarm(self, key: str, device: str | None, message: str, at: datetime) -> list[Alarm]:
        return self._raise_direct(key, device, message, at)

    def clear_alarm(self, key: str, at: datetime) -> list[Alarm]:
        return self._clear_direct(key, at)

    def _raise(self, result: TickResult, key: str, device: str | None, message: str) -> None:
        result.alarms.extend(self._raise_direct(key, device, message, result.ts))

    def _clear(self, result: TickResult, key: str) -> None:
        result.alarms.extend(self._clear_direct(key, result.ts))

    def _raise_direct(self, key: str, device: str | None, message: str,
                      at: datetime) -> list[Alarm]:
        old = self.active_alarms.get(key)
        if old is not None and old.message == message:
            return []
        alarm = Alarm(key, device, message, True, at)
        self.active_alarms[key] = alarm
        return [alarm]

    def _clear_direct(self, key: str, at: datetime) -> list[Alarm]:
        old = self.active_alarms.pop(key, None)
        if old is None:
            return []
        return [Alarm(key, old.device, f"cleared: {old.message}", False, at)]

    # -- explanations -------------------------------------------------------------------

    def explain_unit(self, device: str, now: datetime, latest: Mapping[str, Reading] | None = None,
                     outdoor_c: float | None = None) -> dict[str, Any]:
        """Which layer and rule decide each point of one unit at ``now``, and why (no writes)."""
        import copy

        u = self.rules.units.get(device)
        if u is None:
            raise KeyError(f"no AC unit '{device}' under these rules")
        st = copy.deepcopy(self.states[device])
        if latest is not None and device in latest and latest[device].seq != st.seq:
            self._ingest(st, latest[device])
        if outdoor_c is None and latest is not None:
            outdoor_c = self._outdoor(latest, now)
        ctx = Ctx(now, self.rules, outdoor_c)
        self._slot_cache.clear()
        self._precool_cache.clear()
        trace: list[Opinion] = []
        level = self.demand.levels.get(device, 0) if self.demand is not None else 0
        info = self.rules.calendar.day(ctx.day, u.cal_groups)
        if self.kill_switch is not None:
            trace.append(Opinion(SAFETY, "safety:kill-switch", POWER, None,
                                 f"kill switch on ({self.kill_switch}): nothing is written",
                                 "decides"))
            want: list[Value | None] = [None] * 4
            who: list[Because | None] = [None] * 4
        else:
            want, who, _ = self.decide(u, st, ctx, level, trace)
        return {"device": device, "at": ctx.local.isoformat(timespec="minutes"),
                "day": {"date": ctx.day.isoformat(), "type": info.type.value,
                        "reason": info.reason, "covered": info.covered},
                "tariff_period": ctx.period, "outdoor_temp_c": outdoor_c,
                "exempt": u.exempt, "groups": sorted(u.groups),
                "current": {POINTS[p]: self._current(st, p) for p in range(4)},
                "desired": {POINTS[p]: want[p] for p in range(4)},
                "decided_by": {POINTS[p]: None if who[p] is None else
                               {"layer": LAYER_NAMES[who[p][0]], "rule": who[p][1],  # type: ignore[index]
                                "reason": who[p][2]} for p in range(4)},  # type: ignore[index]
                "opinions": [{"layer": LAYER_NAMES[o.layer], "rule": o.rule,
                              "point": POINTS[o.point], "value": o.value, "reason": o.reason,
                              "status": o.status} for o in trace]}


def _mm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _hhmm(t: float | None, rules: RuleSet) -> str:
    if t is None or math.isinf(t):
        return "?"
    return datetime.fromtimestamp(t, rules.tz).strftime("%H:%M")


__all__ = ["Alarm", "ControlEngine", "DayType", "Notice", "TickResult", "UnitCommand"]


def _since(state: bool, on_since: float | None, off_since: float | None,
           t: float) -> tuple[float | None, float | None]:
    """(since when a binary sensor reads true, since when false) after a reading at ``t``."""
    if state:
        return (t if on_since is None else on_since), None
    return None, (t if off_since is None else off_since)
