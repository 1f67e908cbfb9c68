"""Pure: share the site's 15-minute budget, left after the air conditioning, among the chargers.

One cycle (docs/ev-charging.md "Allocation"):

1. the budget for charging is what keeps the window's projected average below
   ``limit - margin``, given the energy already drawn this window and the non-EV load
   held to the window's end, and never more than the instantaneous headroom;
2. uncontrollable connectors (no SmartCharging, profiles rejected, offline) are metered
   load: their draw comes off the budget and off their circuits first;
3. plugged, controllable connectors are taken by priority, then id; each gets its
   minimum or is paused — a connector below its car's minimum
   would not charge anyway (IEC 61851: 6 A);
4. cars with a departure (the rule file's ``charging.departures``) get, before the fair
   share, up to ``need_kw``, the average power that still gets them full on time —
   higher priority first, then the most pressed (need nearest its rating);
5. what is left is shared fairly (water-filling) inside each priority tier, higher
   tiers first, within every circuit on the way to the main meter;
6. a connector's limit rises by at most ``ramp_kw`` per cycle and falls at once; an idle
   connector holds 0, so a car that plugs in draws nothing until the next cycle grants
   it power: no overshoot at session start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.core.chargers import CircuitConfig

Key = tuple[str, int]
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class ConnectorDemand:
    charger: str
    connector: int
    circuit: str
    priority: int
    min_kw: float
    max_kw: float
    #: a car is plugged in and wants power
    plugged: bool
    #: the allocator's limit reaches the charger
    controllable: bool
    measured_kw: float
    #: the limit in force now (kW), None: none set
    last_kw: float | None
    #: the average kW that gets the car full by its departure, None: no departure known
    need_kw: float | None = None
    #: the car waits for the valley tariff period (charging_rules.plan): 0 this cycle
    deferred: bool = False

    @property
    def key(self) -> Key:
        return (self.charger, self.connector)


@dataclass(frozen=True, slots=True)
class Allocation:
    limits: dict[Key, float]
    budget_kw: float
    #: kW drawn by connectors the allocator cannot steer
    uncontrolled_kw: float
    #: plugged connectors that got nothing this cycle
    paused: tuple[Key, ...]
    #: plugged connectors waiting for the valley period
    deferred: tuple[Key, ...] = ()


def charging_budget_kw(*, limit_kw: float, margin_kw: float, window_s: float,
                       elapsed_s: float, energy_kws: float, non_ev_kw: float) -> float:
    """kW the chargers may draw from now to the window's end.

    ``energy_kws`` is the whole site's energy so far this window (kW·s), ``non_ev_kw``
    the site's load without the chargers, held constant to the window's end."""
    target = limit_kw - margin_kw
    instantaneous = target - non_ev_kw
    remaining = window_s - elapsed_s
    if remaining <= _EPS:
        return max(0.0, instantaneous)
    windowed = (target * window_s - energy_kws - non_ev_kw * remaining) / remaining
    return max(0.0, min(instantaneous, windowed))


def _path(circuit: str, circuits: Mapping[str, CircuitConfig]) -> list[str]:
    out: list[str] = []
    at: str | None = circuit
    while at is not None and at in circuits and at not in out:
        out.append(at)
        at = circuits[at].parent
    return out


def allocate(demands: Sequence[ConnectorDemand], budget_kw: float,
             circuits: Mapping[str, CircuitConfig], ramp_kw: float) -> Allocation:
    room: dict[str, float] = {name: c.max_kw for name, c in circuits.items()}
    paths = {d.key: _path(d.circuit, circuits) for d in demands}
    site = budget_kw
    uncontrolled = 0.0
    for d in demands:
        if not d.controllable:
            uncontrolled += d.measured_kw
            site -= d.measured_kw
            for name in paths[d.key]:
                room[name] -= d.measured_kw

    def headroom(key: Key) -> float:
        return min([site, *(room[n] for n in paths[key])])

    def take(key: Key, kw: float) -> None:
        nonlocal site
        site -= kw
        for n in paths[key]:
            room[n] -= kw

    limits: dict[Key, float] = {}
    cap: dict[Key, float] = {}
    wanting = sorted((d for d in demands if d.controllable and d.plugged and not d.deferred),
                     key=lambda d: (-d.priority, d.key))
    paused: list[Key] = []
    for d in wanting:
        # no limit known (a new session, a reconnect) counts as 0: it rises by the ramp
        ceiling = max(min(d.max_kw, max(d.last_kw or 0.0, 0.0) + ramp_kw), d.min_kw)
        if headroom(d.key) + _EPS >= d.min_kw:
            limits[d.key] = d.min_kw
            cap[d.key] = ceiling
            take(d.key, d.min_kw)
        else:
            limits[d.key] = 0.0
            paused.append(d.key)
    for d in demands:
        if d.controllable and (not d.plugged or d.deferred):
            limits[d.key] = 0.0
    urgent = sorted((d for d in wanting if d.key in cap and d.need_kw is not None),
                    key=lambda d: (-d.priority, -(d.need_kw or 0.0) / max(d.max_kw, _EPS), d.key))
    for d in urgent:
        want = min(cap[d.key], d.need_kw or 0.0) - limits[d.key]
        if want > _EPS:
            more = max(0.0, min(want, headroom(d.key)))
            limits[d.key] += more
            take(d.key, more)
    for tier in sorted({d.priority for d in wanting}, reverse=True):
        members = [d.key for d in wanting if d.priority == tier and d.key in cap]
        _water_fill(members, limits, cap, paths, room, site)
        site = budget_kw - uncontrolled - sum(limits.values())
    deferred = tuple(d.key for d in demands if d.controllable and d.plugged and d.deferred)
    return Allocation(limits, budget_kw, uncontrolled, tuple(paused), deferred)


def _water_fill(members: list[Key], limits: dict[Key, float], cap: dict[Key, float],
                paths: Mapping[Key, list[str]], room: dict[str, float], site: float) -> None:
    """Raise the members' limits equally until each hits its cap or a constraint (a circuit
    on its path, the site) runs out. Each round exhausts a constraint or caps a member,
    so it ends in at most members + circuits + 1 rounds."""
    site_room = {"": site}
    def constraints(k: Key) -> list[tuple[dict[str, float], str]]:
        return [(site_room, ""), *((room, n) for n in paths[k])]
    active = [k for k in members if cap[k] - limits[k] > _EPS]
    while active:
        users: dict[tuple[int, str], int] = {}
        for k in active:
            for table, name in constraints(k):
                users[(id(table), name)] = users.get((id(table), name), 0) + 1
        step = min(cap[k] - limits[k] for k in active)
        for k in active:
            for table, name in constraints(k):
                step = min(step, max(table[name], 0.0) / users[(id(table), name)])
        for k in active:
            limits[k] += step
            for table, name in constraints(k):
                table[name] -= step
        active = [k for k in active if cap[k] - limits[k] > _EPS
                  and all(t[n] > _EPS for t, n in constraints(k))]
