"""What the rules will do on a day: the live engine run against ideal units, writes recorded.

``simulate`` drives a real ``ControlEngine`` (dry of any I/O) minute by minute
over synthetic units that take every command at once; ``plan_day`` keeps the
commands of one day, ``explain_at`` asks the engine at one moment after the
day so far has run. Same code path as the live loop: what ``plan`` prints is
what the daemon would send, apart from what readings change (occupants,
windows, the meter, communication faults).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control.engine import ControlEngine
from gateway.control.ruleset import POINTS, RuleSet
from gateway.control.state import UnitCommand
from gateway.core.policy import COOLING_MODES, HEATING_MODES
from gateway.core.semantics import FAN_CODES, MODE_CODES


@dataclass(frozen=True)
class PlanRow:
    at: datetime
    device: str
    point: str
    before: int | float | None
    after: int | float
    layer: str
    rule: str
    reason: str


def _initial(rules: RuleSet, day: date) -> dict[str, dict[str, int | float]]:
    cooling = day.month in rules.policy.cooling_months
    return {uid: {"power": 0, "mode": MODE_CODES["cool" if cooling else "heat"],
                  "setpoint_c": rules.policy.cooling_min_c if cooling
                  else rules.policy.heating_max_c,
                  "fan": FAN_CODES["auto"]} for uid in rules.units}


#: K/h an ideal unit moves its room towards its setpoint: one rate for every unit (the
#: demo rules' first guess; a rule's own ``rate_k_per_h`` is what it plans with)
IDEAL_RATE_K_PER_H = 3.0


def simulate(rules: RuleSet, start: datetime, end: datetime, *, step_s: float = 60.0,
             outdoor_c: float | None = None, room_c: Mapping[str, float] | None = None,
             rooms_move_from: datetime | None = None,
             on_command: Callable[[datetime, UnitCommand], None] | None = None,
             ) -> tuple[ControlEngine, dict[str, Reading],
                        dict[str, dict[str, tuple[datetime, UnitCommand]]]]:
    """Run the engine from ``start`` to ``end`` (inclusive); returns it, readings of the
    units' final state, and per unit the command that last set each point (with its time).
    ``room_c``: unit → its room temperature, for optimal starts to plan from (without one
    they plan for their whole span). It holds until ``rooms_move_from``; from then a unit
    that runs moves its room towards its setpoint at ``IDEAL_RATE_K_PER_H`` (no weather:
    a room that is off stays where it is)."""
    rooms = dict(room_c or {})
    engine = ControlEngine(rules)
    engine.set_kill_switch(None)
    state = _initial(rules, start.astimezone(rules.tz).date())
    latest: dict[str, Reading] = {}
    last: dict[str, dict[str, tuple[datetime, UnitCommand]]] = {u: {} for u in rules.units}
    t = start
    seq = 0
    while t <= end:
        seq += 1
        for uid, values in state.items():
            latest[uid] = Reading(uid, t, seq, _with_room(values, rooms.get(uid)))
        result = engine.tick(t, latest, outdoor_c)
        for cmd in result.all_commands():
            state[cmd.device][cmd.point] = cmd.value
            engine.note_outcome(cmd, WriteOutcome(True, None, cmd.value), t)
            last[cmd.device][cmd.point] = (t, cmd)
            if on_command is not None:
                on_command(t, cmd)
        if rooms and (rooms_move_from is None or t >= rooms_move_from):
            _move_rooms(rooms, state, step_s)
        t += timedelta(seconds=step_s)
    seq += 1
    final = t - timedelta(seconds=step_s)
    latest = {uid: Reading(uid, final, seq, dict(values)) for uid, values in state.items()}
    return engine, latest, last


def _with_room(values: dict[str, int | float], room: float | None
               ) -> dict[str, int | float | str]:
    out: dict[str, int | float | str] = dict(values)
    if room is not None:
        out["room_temp_c"] = room
    return out


def _move_rooms(rooms: dict[str, float], state: dict[str, dict[str, int | float]],
                step_s: float) -> None:
    step_k = IDEAL_RATE_K_PER_H * step_s / 3600.0
    for uid, room in rooms.items():
        values = state.get(uid)
        if values is None or values["power"] != 1:
            continue
        setpoint, mode = float(values["setpoint_c"]), values["mode"]
        if mode in COOLING_MODES and room > setpoint:
            rooms[uid] = max(setpoint, room - step_k)
        elif mode in HEATING_MODES and room < setpoint:
            rooms[uid] = min(setpoint, room + step_k)


@dataclass
class Plan:
    day: date
    rows: list[PlanRow]
    #: each unit's state when the day begins (after the day before ran)
    start: dict[str, dict[str, int | float]]


def plan_day(rules: RuleSet, day: date, *, devices: Iterable[str] | None = None,
             outdoor_c: float | None = None, room_c: Mapping[str, float] | None = None,
             step_s: float = 60.0) -> Plan:
    """Every command the rules give on ``day`` (site-local), after a day of warm-up.
    ``room_c``: the rooms' temperatures when the day begins (see ``simulate``)."""
    begin = datetime(day.year, day.month, day.day, tzinfo=rules.tz)
    wanted = set(devices) if devices is not None else set(rules.units)
    rows: list[PlanRow] = []
    _, latest, _ = simulate(rules, begin - timedelta(days=1), begin - timedelta(seconds=step_s),
                            step_s=step_s, outdoor_c=outdoor_c, room_c=room_c,
                            rooms_move_from=begin)
    start = {u: {k: v for k, v in r.values.items() if isinstance(v, int | float)}
             for u, r in latest.items() if u in wanted}

    def keep(t: datetime, cmd: UnitCommand) -> None:
        if t >= begin and cmd.device in wanted:
            rows.append(PlanRow(t, cmd.device, cmd.point, cmd.before, cmd.value, cmd.layer,
                                cmd.rule, cmd.reason))

    simulate(rules, begin - timedelta(days=1), begin + timedelta(days=1, seconds=-step_s),
             step_s=step_s, outdoor_c=outdoor_c, room_c=room_c, rooms_move_from=begin,
             on_command=keep)
    rows.sort(key=lambda r: (r.device, r.at, POINTS.index(r.point)))
    return Plan(day, rows, start)


def explain_at(rules: RuleSet, device: str, at: datetime,
               outdoor_c: float | None = None) -> dict[str, Any]:
    """Explain one unit at ``at`` as the rules would have left it (no live readings)."""
    if device not in rules.units:
        raise KeyError(device)
    engine, latest, last = simulate(rules, at - timedelta(days=1), at, outdoor_c=outdoor_c)
    out = engine.explain_unit(device, at, latest, outdoor_c)
    out["set_by"] = {p: {"at": t.astimezone(rules.tz).isoformat(timespec="minutes"),
                         "rule": c.rule, "layer": c.layer, "reason": c.reason}
                     for p, (t, c) in last[device].items()}
    return out
