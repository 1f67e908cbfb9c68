"""Pure: when each unit of an optimal-start rule must start so its room is ready on time.

As a building automation system's optimal start (ASHRAE Guideline 36 §5.1.9: the
warm-up / cool-down period from the zone's distance to its setpoint and a learned rate),
with one addition for a site under a demand limit: at most ``max_concurrent`` units run
their full-power phase at once, so the warm-up stays inside the limit by construction
instead of being shed after the fact.

Each unit needs ``lead`` hours: the time its room takes to cover its distance to
``reach_c``, plus the margin. A room does not warm (or cool) at one rate: in the first half
hour the air moves fast (the unit's jump), after that the walls set a slower, steady pace.
A rate fitted to one run's end points is right only for runs as long as that one: learned on
a weekday morning (4 K in 20 minutes, "12 K/h") it promised a cold-soaked Monday room 11 K
in an hour; it took four. So each unit learns both, from its own runs: the jump (K beyond
the steady rate in the first half hour) and the steady rate (K/h after it).

Units are placed backwards from the occupied time on ``max_concurrent`` lanes, longest lead
first, each as late as its lane allows. When the span is too short for the cap, the cap
still holds: the unit that does not fit goes to the lane with the most room, the units
already there move later, and every unit that will then not be ready on time is reported
late, with how far short of ``reach_c`` it will be (the engine's ``start:<rule>:late``
alarm). Comfort yields to the demand limit, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: kelvin short at the occupied time below which a room counts as on time
LATE_K = 0.1
#: hours of a run's first phase, when the air moves faster than the walls let it later
JUMP_H = 0.5
#: the slowest and fastest steady rate a run can teach, K/h (the rule file's own bounds),
#: and the largest jump, K (a sensor's glitch must not teach a room 50 K in half an hour)
MIN_RATE, MAX_RATE = 0.2, 20.0
MAX_JUMP = 30.0


@dataclass(frozen=True, slots=True)
class Zone:
    """One unit as the planner sees it."""

    unit: str
    #: room temperature now, °C (None: unknown — planned as needing the whole span)
    room_c: float | None
    #: K per hour towards ``reach_c`` at full power, once the first phase is over
    rate_k_per_h: float
    #: already warming (started earlier in this span)
    started: bool
    #: kelvin the first phase still brings beyond the steady rate, and its hours left
    jump_k: float = 0.0
    jump_h: float = JUMP_H


@dataclass(slots=True)
class StartPlan:
    #: unit → start, minutes after local midnight (≤ now: start now)
    starts: dict[str, float] = field(default_factory=dict)
    #: unit → hours of lead it needs: its need and the margin (the span when unknown)
    lead_h: dict[str, float] = field(default_factory=dict)
    #: unit → hours at full power it needs to reach ``reach_c`` (0: already there)
    need_h: dict[str, float] = field(default_factory=dict)
    #: unit → kelvin it will still be short at the occupied time
    late: dict[str, float] = field(default_factory=dict)
    #: units that did not fit on a lane (the span is too short for the cap)
    crowded: list[str] = field(default_factory=list)


def gap_k(zone: Zone, reach_c: float, heating: bool) -> float:
    """Kelvin the zone's room still has to go (≤ 0: there); its room must be known."""
    assert zone.room_c is not None
    return reach_c - zone.room_c if heating else zone.room_c - reach_c


def need_hours(zone: Zone, reach_c: float, heating: bool, span_h: float) -> float:
    """Hours the zone needs at full power to reach ``reach_c`` (0 if it is there; the
    whole span when its room temperature is unknown)."""
    if zone.room_c is None:
        return span_h
    gap = gap_k(zone, reach_c, heating)
    if gap <= 0:
        return 0.0
    r, jump_k, jump_h = zone.rate_k_per_h, zone.jump_k, zone.jump_h
    if jump_k <= 0 or jump_h <= 0:
        return gap / r
    if gap <= jump_k + r * jump_h:  # there within the first phase
        return gap / (jump_k / jump_h + r)
    return (gap - jump_k) / r


def progress_k(zone: Zone, hours: float) -> float:
    """Kelvin the zone's room covers in ``hours`` at full power (``need_hours`` inverted)."""
    hours = max(0.0, hours)
    r, jump_k, jump_h = zone.rate_k_per_h, zone.jump_k, zone.jump_h
    if jump_k <= 0 or jump_h <= 0:
        return r * hours
    if hours <= jump_h:
        return hours * (jump_k / jump_h + r)
    return jump_k + r * hours


def lead_hours(zone: Zone, need_h: float, margin_min: float, span_h: float) -> float:
    """Hours before the occupied time the zone starts: its need plus the margin (the
    whole span when its room temperature is unknown; 0 if it is there)."""
    if zone.room_c is None:
        return span_h
    return need_h + margin_min / 60.0 if need_h > 0 else 0.0


def plan(zones: list[Zone], *, now_min: float, earliest_min: float, occupied_min: float,
         reach_c: float, heating: bool, margin_min: float,
         max_concurrent: int | None) -> StartPlan:
    """Start times for every zone; see the module docstring."""
    out = StartPlan()
    span_h = max(0.0, (occupied_min - earliest_min) / 60.0)
    lanes_n = max_concurrent if max_concurrent is not None else len(zones) or 1
    # a lane is free (for placing backwards) up to `top` and may not go below `floor`
    floor0 = max(now_min, earliest_min)
    lanes: list[tuple[float, float]] = []
    on_lane: list[list[Zone]] = []
    for z in zones:
        out.need_h[z.unit] = need_hours(z, reach_c, heating, span_h)
        lead = out.lead_h[z.unit] = lead_hours(z, out.need_h[z.unit], margin_min, span_h)
        if z.started:
            out.starts[z.unit] = now_min
            if lead > 0 and len(lanes) < lanes_n:
                lanes.append((occupied_min, now_min + lead * 60.0))
                on_lane.append([])
    while len(lanes) < lanes_n:
        lanes.append((occupied_min, floor0))
        on_lane.append([])
    lane_end = [occupied_min] * len(lanes)
    todo = sorted((z for z in zones if not z.started), key=lambda z: -out.lead_h[z.unit])
    for z in todo:
        lead_min = out.lead_h[z.unit] * 60.0
        if lead_min <= 0:
            out.starts[z.unit] = occupied_min  # ready: nothing to do before the schedule
            continue
        fits = [(top - lead_min, i) for i, (top, bottom) in enumerate(lanes)
                if top - lead_min >= bottom]
        if fits:
            start, i = max(fits)
            lanes[i] = (start, lanes[i][1])
            on_lane[i].append(z)
            out.starts[z.unit] = start
            continue
        # no lane fits: the cap holds and someone is late. The lane with the most room
        # takes the unit at its bottom and pushes its others later by the overflow
        i = min(range(len(lanes)), key=lambda k: (lane_end[k], lanes[k][1] - lanes[k][0], k))
        top, bottom = lanes[i]
        start = bottom
        overflow = max(0.0, start + lead_min - top)
        out.crowded.append(z.unit)
        for other in on_lane[i]:
            out.starts[other.unit] += overflow
        lane_end[i] += overflow
        on_lane[i].append(z)
        lanes[i] = (start, start)
        out.starts[z.unit] = start
        for member in on_lane[i]:
            # the margin is slack, not need: late only by what the room itself lacks
            short_k = _short_k(member, out, occupied_min, reach_c, heating)
            if short_k >= LATE_K:
                out.late[member.unit] = short_k
    return out


def _short_k(zone: Zone, out: StartPlan, occupied_min: float, reach_c: float,
             heating: bool) -> float:
    """Kelvin the zone will still lack at the occupied time, starting when planned."""
    start = out.starts[zone.unit]
    if zone.room_c is None:  # planned as needing the whole span: its lateness at its rate
        end = start + out.need_h[zone.unit] * 60.0
        return (end - occupied_min) / 60.0 * zone.rate_k_per_h
    return gap_k(zone, reach_c, heating) - progress_k(zone, (occupied_min - start) / 60.0)


@dataclass(frozen=True, slots=True)
class Learned:
    """A unit's warm-up (or cool-down) model after a run."""

    #: K/h after the first phase
    rate_k_per_h: float
    #: K the first phase brings beyond the steady rate
    jump_k: float


def learned(old: Learned, from_c: float, mid: tuple[float, float] | None, to_c: float,
            hours: float, heating: bool) -> Learned | None:
    """The model after a run that went from ``from_c`` to ``to_c`` in ``hours``, through
    ``mid`` (hours into the run, room then: the first reading at or after ``JUMP_H``; None
    when it ended before): half the old estimate, half the new measurement (a smoothed
    estimate, as Guideline 36 adapts its optimal-start constants day by day). None when
    the run was too short, or moved the room too little or the wrong way, to measure.

    A run that ended within its first phase measures only the jump (its steady rate is
    taken as known); a longer one measures the steady rate after the middle reading, then
    the jump as what the run had brought by then beyond that rate."""
    sign = 1.0 if heating else -1.0
    progress = sign * (to_c - from_c)
    if hours < 0.25 or progress < 1.0:
        return None
    rate = old.rate_k_per_h
    if hours <= JUMP_H:
        jump = (progress / hours - rate) * JUMP_H
    elif mid is None:  # not seen after the first phase (no reading then)
        jump = progress - rate * hours
    else:
        mid_h, mid_c = mid
        late_h, late_k = hours - mid_h, sign * (to_c - mid_c)
        if late_h >= 0.25 and (late_k >= 0.5 or late_h >= 1.0):
            # a stalled run teaches its slow rate too, down to the rule file's floor
            measured = min(MAX_RATE, max(MIN_RATE, late_k / late_h))
            rate = 0.5 * rate + 0.5 * measured
            jump = sign * (mid_c - from_c) - measured * mid_h
        else:
            jump = sign * (mid_c - from_c) - rate * mid_h
    return Learned(rate, 0.5 * old.jump_k + 0.5 * min(MAX_JUMP, max(0.0, jump)))
