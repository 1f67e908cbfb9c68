"""The control engine: every tick, each unit's desired state from the rules and its latest
readings, resolved through one fixed precedence; only differences become commands.

Pure: no sockets, no clock. ``tick(now, latest)`` takes the time and the newest
reading of every device and returns commands, notices and alarms; the actuator
sends the commands and reports each outcome back with ``note_outcome``. The
engine remembers what it wrote (and when), so it does not repeat a command
while the next poll has not yet shown it, counts the attempts of a command
that does not take, and raises an alarm after ``engine.max_attempts``.

The precedence is ``gateway.control.layers``: one module per layer, applied in
``layers.ORDER`` (docs/rules.md "Precedence"). The engine only orders them and
keeps the books: readings in, the demand controller's step, the commands that
differ from what a unit has, their outcomes and alarms, and which schedule step
each unit has had.

Schedules act at their steps: a step is applied when it begins (and at
start-up), then people may change the unit locally until the next step
(``hold: always`` enforces it every tick instead). When a higher layer lets go
of a unit (an override expires, a window closes, demand control releases it),
the unit goes back to its schedule's current step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control.demand import Candidate, DemandAction, DemandController
from gateway.control.layers import (
    HOLDING,
    ORDER,
    base_schedule,
    equipment_protection,
    offsets,
    safety,
)
from gateway.control.overrides import Override, OverrideBook
from gateway.control.protection import NEVER
from gateway.control.ruleset import (
    CLAMP,
    FAN,
    LAYER_NAMES,
    MODE,
    POINTS,
    POWER,
    SCHEDULE,
    SETPOINT,
    RuleSet,
    UnitInfo,
)
from gateway.control.state import (
    Alarm,
    Ctx,
    Decision,
    Notice,
    Opinion,
    Proposal,
    TickResult,
    Track,
    UnitCommand,
    UnitState,
    Value,
    fmt,
    same,
)
from gateway.control.write_order import limits_check, safe_order
from gateway.core.policy import HEATING_MODES
from gateway.core.semantics import MODE_CODES

#: built once: ``isinstance(v, int | float)`` would build the union on every reading
NUMBER = int | float
#: an optimal start's late alarm clears after its plan has been on time this long: a plan
#: remade every tick crosses its 0.1 K line back and forth while a room is nearly there
LATE_CLEAR_S = 1800.0


class ControlEngine:
    def __init__(self, rules: RuleSet):
        self.rules = rules
        self.policy = rules.setpoint_policy()
        self.kill_switch: str | None = "rule file: safety.kill_switch" \
            if rules.safety.kill_switch else None
        self.states: dict[str, UnitState] = {u: UnitState() for u in rules.units}
        self.overrides = OverrideBook()
        self.demand = DemandController(rules.demand) if rules.demand is not None else None
        self.tracks: dict[tuple[str, int], Track] = {}
        self.active_alarms: dict[str, Alarm] = {}
        #: late alarm key → since when its plan has been on time again
        self._on_time_since: dict[str, float] = {}
        self._alarm_day: date | None = None
        self.last_outdoor: float | None = None

    # -- rule sets ----------------------------------------------------------------

    def replace_rules(self, rules: RuleSet) -> None:
        """Swap the rule set atomically; unit states, overrides and demand levels carry over."""
        self.rules = rules
        self.policy = rules.setpoint_policy()
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
        start = now.timestamp()
        until = start + min(duration_s if duration_s is not None else cfg.default_s, cfg.max_s)
        if cfg.end_at_next_slot and duration_s is None:
            step = base_schedule.next_step(self.rules, unit, now)
            if step is not None:
                until = min(until, step.timestamp())
        held = Override(override_id, device, tuple(pairs), start, until, source, who, note)
        self.overrides.add(held)
        return held

    # -- the tick -------------------------------------------------------------------

    def _ctx(self, now: datetime, outdoor_c: float | None) -> Ctx:
        return Ctx(now, self.rules, outdoor_c, self.overrides,
                   self.demand.levels if self.demand is not None else None, self.states)

    def tick(self, now: datetime, latest: Mapping[str, Reading],
             outdoor_c: float | None = None) -> TickResult:
        rules = self.rules
        if outdoor_c is None:
            outdoor_c = self._outdoor(latest, now)
        self.last_outdoor = outdoor_c
        ctx = self._ctx(now, outdoor_c)
        result = TickResult(now)
        if self._alarm_day != ctx.day:
            self._alarm_day = ctx.day
            msg = rules.calendar.coverage_alarm(ctx.day)
            if msg is not None:
                self._raise(result, "calendar:coverage", None, msg)
            else:
                self._clear(result, "calendar:coverage")
        for expired in self.overrides.expire(ctx.now):
            state = self.states.get(expired.device)
            if state is not None:
                state.marks = [None, None, None, None]
            result.notices.append(Notice(now, expired.device, f"override:{expired.id}",
                                         f"{expired.describe(self.rules.tz)} expired: back to "
                                         "the schedule"))
        states = self.states
        for device, state in states.items():
            reading = latest.get(device)
            if reading is not None and reading.seq != state.seq:
                self._ingest(state, reading)
        if self.demand is not None:
            self._demand_step(ctx, latest, result)
        if self.kill_switch is not None:
            return result
        for device, unit in rules.units.items():
            self._unit(unit, states[device], ctx, result)
        if rules.optimal_start or self.active_alarms:
            self._start_alarms(ctx, result)
        return result

    def tick_unit(self, device: str, now: datetime, latest: Mapping[str, Reading],
                  outdoor_c: float | None = None
                  ) -> tuple[TickResult, list[Decision | None]]:
        """One unit's decision now (an operator command just arrived); the same path as tick.
        Returns the commands and who decided each point."""
        unit = self.rules.units[device]
        state = self.states[device]
        if outdoor_c is None:
            outdoor_c = self._outdoor(latest, now) if self.last_outdoor is None \
                else self.last_outdoor
        ctx = self._ctx(now, outdoor_c)
        result = TickResult(now)
        reading = latest.get(device)
        if reading is not None and reading.seq != state.seq:
            self._ingest(state, reading)
        if self.kill_switch is not None:
            return result, [safety.kill_switch(self.kill_switch)] * 4
        return result, self._unit(unit, state, ctx, result)

    def _outdoor(self, latest: Mapping[str, Reading], now: datetime) -> float | None:
        ref = self.rules.outdoor
        if ref is None:
            return None
        reading = latest.get(ref.device)
        if reading is None or (now - reading.ts).total_seconds() > ref.stale_s:
            return None
        value = reading.values.get(ref.point)
        return float(value) if isinstance(value, NUMBER) else None

    def _ingest(self, state: UnitState, reading: Reading) -> None:
        state.seq = reading.seq
        values = reading.values
        power = values.get("power")
        if power is None:
            return
        t = reading.ts.timestamp()
        if state.ts != NEVER and t - state.ts > self.rules.protection.comms_lost_s:
            state.fresh = False  # communications were lost: the restart stagger applies again
        state.ts = t
        cur = state.cur
        cur[POWER] = int(power)
        mode = values.get("mode")
        cur[MODE] = int(mode) if isinstance(mode, NUMBER) else None
        setpoint = values.get("setpoint_c")
        cur[SETPOINT] = float(setpoint) if isinstance(setpoint, NUMBER) else None
        fan = values.get("fan")
        cur[FAN] = int(fan) if isinstance(fan, NUMBER) else None
        room = values.get("room_temp_c")
        state.room = float(room) if isinstance(room, NUMBER) else None
        kw = values.get("power_kw")
        state.power_kw = float(kw) if isinstance(kw, NUMBER) else None
        belief = state.belief[POWER]
        if belief is None or belief[1] <= t:
            state.hist.switched(int(power), t)
        mode_code = cur[MODE]
        state.hist.running(int(power), int(mode_code) if mode_code is not None else None, t)
        window_open = values.get("window_open")
        if window_open is not None:
            state.win_open_since, state.win_closed_since = _since(
                bool(window_open), state.win_open_since, state.win_closed_since, t)
        occupied = values.get("occupied")
        if occupied is not None:
            state.occ_since, state.vac_since = _since(bool(occupied), state.occ_since,
                                                      state.vac_since, t)

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
        controller = self.demand
        cfg = self.rules.demand
        assert controller is not None and cfg is not None
        reading = latest.get(cfg.meter)
        if reading is not None:
            kw = reading.values.get(cfg.point)
            if isinstance(kw, NUMBER):
                controller.observe(reading.ts.timestamp(), float(kw))

        def candidates() -> list[Candidate]:
            out = []
            for device, shed_class in cfg.classes.items():
                state = self.states.get(device)
                if state is None or ctx.now - state.ts > self.rules.safety.stale_after_s:
                    continue
                power, mode, setpoint, _ = state.currents()
                margin = 0.0
                if state.room is not None and setpoint is not None:
                    margin = state.room - float(setpoint) if mode in HEATING_MODES else \
                        float(setpoint) - state.room
                load = state.power_kw if state.power_kw is not None else cfg.release_estimate_kw
                out.append(Candidate(device, shed_class, power == 1 and mode != MODE_CODES["fan"],
                                     margin, load))
            return out

        for action in controller.step(ctx.now, self.demand_active(ctx), candidates):
            self._demand_notice(ctx, action, result)
        self._demand_feasibility(ctx, controller, candidates, result)
        if controller.futile:
            self._raise(result, "demand:futile", cfg.meter,
                        f"demand: shedding does not move the meter ({cfg.futility_passes} "
                        f"passes without a {cfg.futility_min_drop_kw:g} kW drop); stopped "
                        "shedding until the next window")
        else:
            self._clear(result, "demand:futile")
        if controller.projected_kw is None and self.demand_active(ctx):
            self._raise(result, "demand:meter", cfg.meter,
                        f"demand: no fresh reading of {cfg.meter}.{cfg.point} (stale after "
                        f"{cfg.meter_stale_s:g} s); holding, shedding nothing new")
        else:
            self._clear(result, "demand:meter")

    def _demand_feasibility(self, ctx: Ctx, controller: DemandController,
                            candidates: Callable[[], list[Candidate]],
                            result: TickResult) -> None:
        """Say so, while the window is still open, when the limit cannot be held: the
        projection is above limit + deadband and nothing is left to shed (every unit that
        may be shed is at its last level, or shedding stopped moving the meter)."""
        cfg = controller.cfg
        projected = controller.projected_kw
        key = "demand:infeasible"
        if projected is None or not self.demand_active(ctx) \
                or projected <= cfg.limit_kw + cfg.deadband_kw:
            self._clear(result, key)
            return
        levels = controller.levels
        left = [c for c in candidates() if c.on and levels.get(c.unit, 0) < cfg.max_level]
        if left and not controller.futile:
            return  # still shedding
        if key in self.active_alarms:
            return  # raised once per episode; its figures are those of when it began
        shed = sum(1 for lv in levels.values() if lv > 0)
        minutes = controller.remaining_fraction(ctx.now) * cfg.window_s / 60
        self._raise(result, key, cfg.meter,
                    f"demand: the window ending in {minutes:.0f} min is projected at "
                    f"{projected:.1f} kW against the limit {cfg.limit_kw:g} kW + "
                    f"{cfg.deadband_kw:g} kW deadband, with {shed} unit(s) shed and none left "
                    "to shed within the rules; the rest is load the rules keep in the band")

    def _start_alarms(self, ctx: Ctx, result: TickResult) -> None:
        """An optimal start that cannot have every room ready on time says so, with
        figures, while there is still time to act: once per episode, which ends with the
        rule's span or when its plan has been on time for ``LATE_CLEAR_S``; a rule that a
        reload removed ends its episode too."""
        keys = {f"{rule.id}:late" for rule in self.rules.optimal_start}
        for key in [k for k in self.active_alarms
                    if k.startswith("start:") and k.endswith(":late") and k not in keys]:
            self._on_time_since.pop(key, None)
            self._clear(result, key)
        for rule in self.rules.optimal_start:
            key = f"{rule.id}:late"
            plan = ctx.starts.get(rule.id)
            if plan is None:  # outside its span
                self._on_time_since.pop(key, None)
                self._clear(result, key)
                continue
            if not plan.late:
                since = self._on_time_since.setdefault(key, ctx.now)
                if ctx.now - since >= LATE_CLEAR_S:
                    self._clear(result, key)
                continue
            self._on_time_since.pop(key, None)
            if key in self.active_alarms:
                continue  # with the figures of when it began
            what = "warm-up" if rule.heating else "cool-down"
            hh = f"{rule.occupied // 60:02d}:{rule.occupied % 60:02d}"
            worst = max(plan.late.values())
            cap = f" with at most {rule.max_concurrent} at once" if rule.max_concurrent else ""
            self._raise(result, key, None,
                        f"{rule.name}: the {what} from {rule.earliest // 60:02d}:"
                        f"{rule.earliest % 60:02d}{cap} cannot have every room ready: "
                        f"{len(plan.late)} room(s) up to {worst:.1f} K short of "
                        f"{rule.reach_c:g} °C at {hh}")

    def _demand_notice(self, ctx: Ctx, action: DemandAction, result: TickResult) -> None:
        controller = self.demand
        assert controller is not None
        projected = controller.projected_kw
        result.notices.append(Notice(ctx.dt, action.unit, "demand", action.reason, {
            "level_before": action.before, "level_after": action.after,
            "projected_kw": None if projected is None else round(projected, 2),
            "meter_kw": controller.last_kw}))

    # -- one unit -------------------------------------------------------------------

    def decide(self, unit: UnitInfo, state: UnitState, ctx: Ctx,
               trace: list[Opinion] | None = None) -> Proposal:
        """Every layer, lowest precedence first, on the unit's proposal: per point the value
        to command (None: none) and who decided it (``Proposal.who``). ``explain_unit``
        (``escogw rules explain``) asks with a trace, the tick without; the path is the same.
        """
        proposal = Proposal(state.currents(), trace)
        for layer in ORDER:
            layer(proposal, unit, state, ctx)
        offsets.settle(proposal, state)
        return proposal

    def _unit(self, unit: UnitInfo, state: UnitState, ctx: Ctx,
              result: TickResult) -> list[Decision | None]:
        """Decide one unit; its commands (what differs from what it has, not already sent)
        go into ``result``. Returns who decided each point."""
        if safety.stale(state, ctx):
            state.fresh = False
            return [None, None, None, None]
        if not state.fresh:
            state.fresh = True
            equipment_protection.stagger_starts(unit, state, ctx)
        proposal = self.decide(unit, state, ctx)
        who = proposal.who
        held = 0
        for point, decision in enumerate(who):
            if decision is not None and decision.layer in HOLDING:
                held |= 1 << point
        if state.held & ~held:
            state.marks = [None, None, None, None]  # a hold ended: back to the current step
        state.held = held
        commands: list[UnitCommand] | None = None
        inputs: dict[str, Any] | None = None
        tracks = self.tracks
        cfg = self.rules.engine
        for point, decision in enumerate(who):
            if decision is None or decision.value is None:
                continue
            value = decision.value
            before = proposal.current[point]
            if same(point, before, value):
                if decision.layer == SCHEDULE:
                    pick = proposal.picks[point]
                    if pick is not None:
                        state.marks[point] = pick.key
                track = tracks.pop((unit.id, point), None)
                if track is not None and track.alarmed:
                    self._clear(result, f"write:{unit.id}:{POINTS[point]}")
                continue
            key = (unit.id, point)
            track = tracks.get(key)
            if track is not None and same(point, track.value, value):
                if track.pending or track.dry:
                    continue
                if track.attempts >= cfg.max_attempts:
                    if ctx.now < track.parked_until:
                        continue
                    track.attempts = 0
            else:
                track = tracks[key] = Track(value)
            track.pending = True
            if commands is None:
                commands = []
            if inputs is None:
                inputs = self._inputs(unit, state, ctx)
            commands.append(UnitCommand(unit.id, POINTS[point], value, before,
                                        LAYER_NAMES[decision.layer], decision.rule,
                                        decision.reason, inputs, cfg.write_ttl_s))
        if commands:
            if len(commands) > 1:
                commands = self._ordered(unit, proposal, commands)
            result.commands[unit.id] = commands
        return who

    def _ordered(self, unit: UnitInfo, proposal: Proposal,
                 commands: list[UnitCommand]) -> list[UnitCommand]:
        """One unit's writes in an order that never shows it outside the limits between two
        of them (write_order); an exempt unit keeps the habit: settings before switching
        on, power first when switching off."""
        current = dict(zip(POINTS, proposal.current, strict=True))
        check = limits_check(self.policy, unit.zone)  # the policy knows the zone's exemption
        first = commands[0]

        def power(value: int) -> UnitCommand:
            return UnitCommand(unit.id, "power", value, current["power"], LAYER_NAMES[CLAMP],
                               "clamp:write-order", "off while mode and setpoint cross from "
                               "one limit to the other; protection decides the restart",
                               first.inputs, first.ttl_s)

        return safe_order(current, commands, lambda c: c.point, lambda c: c.value, check,
                          power)

    def _inputs(self, unit: UnitInfo, state: UnitState, ctx: Ctx) -> dict[str, Any]:
        """What the decision saw, for the audit record of a command."""
        out: dict[str, Any] = {"room_temp_c": state.room,
                               "day_type": self.rules.calendar.day(ctx.day, unit.cal_groups)
                               .type.value, "local_time": ctx.hhmm}
        if ctx.outdoor is not None:
            out["outdoor_temp_c"] = ctx.outdoor
        if ctx.period is not None:
            out["tariff_period"] = ctx.period
        level = ctx.levels.get(unit.id, 0)
        if level and self.demand is not None:
            projected = self.demand.projected_kw
            out["demand_level"] = level
            out["projected_kw"] = None if projected is None else round(projected, 2)
        return out

    # -- outcomes and alarms ------------------------------------------------------------

    def note_outcome(self, cmd: UnitCommand, outcome: WriteOutcome, at: datetime) -> list[Alarm]:
        """The actuator reports a write's outcome; returns alarms raised or cleared."""
        state = self.states.get(cmd.device)
        if state is None:
            return []
        point = POINTS.index(cmd.point)
        t = at.timestamp()
        key = (cmd.device, point)
        track = self.tracks.get(key)
        alarms: list[Alarm] = []
        if outcome.ok:
            value = outcome.applied if isinstance(outcome.applied, NUMBER) else cmd.value
            state.belief[point] = (value, t)
            if point == POWER:
                state.hist.switched(int(value), t)
            power, mode, _, _ = state.currents()
            state.hist.running(int(power) if power is not None else None,
                               int(mode) if mode is not None else None, t)
            if track is not None and same(point, track.value, cmd.value):
                del self.tracks[key]
                if track.alarmed:
                    alarms.extend(self._clear_direct(f"write:{cmd.device}:{cmd.point}", at))
            return alarms
        if track is None or not same(point, track.value, cmd.value):
            return alarms
        track.pending = False
        track.attempts += 1
        if track.attempts >= self.rules.engine.max_attempts:
            track.parked_until = t + self.rules.engine.retry_after_alarm_s
            if not track.alarmed:
                track.alarmed = True
                alarms.extend(self._raise_direct(
                    f"write:{cmd.device}:{cmd.point}", cmd.device,
                    f"{cmd.device}.{cmd.point} = {fmt(point, cmd.value)} not applied after "
                    f"{track.attempts} attempts ({outcome.error}); rule {cmd.rule}; retrying in "
                    f"{self.rules.engine.retry_after_alarm_s / 60:g} min", at))
        return alarms

    def note_dry_run(self, cmd: UnitCommand) -> None:
        """Dry run: the command was reported, not written; do not repeat it."""
        track = self.tracks.get((cmd.device, POINTS.index(cmd.point)))
        if track is not None:
            track.pending = False
            track.dry = True

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

        unit = self.rules.units.get(device)
        if unit is None:
            raise KeyError(f"no AC unit '{device}' under these rules")
        state = copy.deepcopy(self.states[device])
        if latest is not None and device in latest and latest[device].seq != state.seq:
            self._ingest(state, latest[device])
        if outdoor_c is None and latest is not None:
            outdoor_c = self._outdoor(latest, now)
        ctx = self._ctx(now, outdoor_c)
        trace: list[Opinion] = []
        info = self.rules.calendar.day(ctx.day, unit.cal_groups)
        who: list[Decision | None] = [None, None, None, None]
        if self.kill_switch is not None:
            trace.append(safety.kill_switch_opinion(self.kill_switch))
        else:
            who = self.decide(unit, state, ctx, trace).who
        return {"device": device, "at": ctx.local.isoformat(timespec="minutes"),
                "day": {"date": ctx.day.isoformat(), "type": info.type.value,
                        "reason": info.reason, "covered": info.covered},
                "tariff_period": ctx.period, "outdoor_temp_c": outdoor_c,
                "exempt": unit.exempt, "groups": sorted(unit.groups),
                "current": dict(zip(POINTS, state.currents(), strict=True)),
                "desired": {POINTS[p]: None if d is None else d.value for p, d in enumerate(who)},
                "decided_by": {POINTS[p]: None if d is None else
                               {"layer": LAYER_NAMES[d.layer], "rule": d.rule, "reason": d.reason}
                               for p, d in enumerate(who)},
                "opinions": [{"layer": LAYER_NAMES[o.layer], "rule": o.rule,
                              "point": POINTS[o.point], "value": o.value, "reason": o.reason,
                              "status": o.status} for o in trace]}


def _since(state: bool, on_since: float | None, off_since: float | None,
           t: float) -> tuple[float | None, float | None]:
    """(since when a binary sensor reads true, since when false) after a reading at ``t``."""
    if state:
        return (t if on_since is None else on_since), None
    return None, (t if off_since is None else off_since)


__all__ = ["ControlEngine"]
