"""Site demand limit on the utility's 15-minute window: projection and the shedding state machine.

The meter's power is integrated over fixed windows aligned to the utility's
(``window_s``, ``offset_s`` from the hour). Waiting for a window's average is too
late, so the controller acts on the *projection* of the window's end: energy so
far plus the present power held to the end. Parameters (docs/rules.md):

* shed when the projection stays above ``limit_kw`` for ``confirm_s``; one pass
  every ``pass_interval_s``, at most ``max_units_per_pass`` units per pass;
* each pass moves a unit one level up: setpoint relief ``relief_k[0]``, then
  ``relief_k[1]`` …, then off (``allow_off``). Units at the lowest level go
  first, then by shed class (1 first), then the most comfortable (largest
  margin between room and setpoint), then the biggest load;
* futility guard: when ``futility_passes`` passes in a row do not lower the
  meter by ``futility_min_drop_kw``, shedding stops until the next window, and
  an alarm says so;
* release when the projection, plus the released unit's estimated load, stays
  below ``limit_kw - deadband_kw`` for ``confirm_s``: ``release_units`` units every
  ``release_interval_s`` (staggered), each curtailed for at least ``curtail_min_s``,
  the least comfortable first.

Pure: times are seconds since the epoch, passed in.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.control.ruleset import DemandConfig


@dataclass(frozen=True, slots=True)
class Candidate:
    unit: str
    shed_class: int
    on: bool
    #: comfort margin, K: how far the room is on the comfortable side of its setpoint
    margin: float
    load_kw: float


@dataclass(frozen=True, slots=True)
class DemandAction:
    unit: str
    before: int
    after: int
    reason: str


@dataclass
class DemandController:
    cfg: DemandConfig
    #: unit → curtailment level (0: none; 1..len(relief_k): relief; max_level: off)
    levels: dict[str, int] = field(default_factory=dict)
    #: unit → time of its last escalation (the curtail duration runs from there)
    since: dict[str, float] = field(default_factory=dict)
    window_index: int | None = None
    window_energy_kws: float = 0.0
    last_ts: float | None = None
    last_kw: float | None = None
    #: (window start, average kW) of finished windows, newest last
    completed: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=96))
    over_since: float | None = None
    under_since: float | None = None
    last_pass: float | None = None
    kw_at_pass: float | None = None
    futile_count: int = 0
    futile: bool = False
    last_release: float = -math.inf
    projected_kw: float | None = None
    shed_started: float | None = None

    # -- the meter --------------------------------------------------------------

    def window_of(self, t: float) -> int:
        return math.floor((t - self.cfg.offset_s) / self.cfg.window_s)

    def window_start(self, index: int) -> float:
        return index * self.cfg.window_s + self.cfg.offset_s

    def observe(self, ts: float, kw: float) -> None:
        """A new meter reading (time, kW). Power is held constant between readings."""
        if self.last_ts is not None and ts <= self.last_ts:
            return
        if self.last_ts is None or self.last_kw is None:
            self.window_index = self.window_of(ts)
            self.window_energy_kws = 0.0
            self.last_ts, self.last_kw = ts, kw
            return
        self._integrate_to(ts)
        self.last_kw = kw

    def _integrate_to(self, t: float) -> None:
        assert self.last_ts is not None and self.last_kw is not None
        assert self.window_index is not None
        while True:
            end = self.window_start(self.window_index + 1)
            if t < end:
                self.window_energy_kws += self.last_kw * (t - self.last_ts)
                self.last_ts = t
                return
            self.window_energy_kws += self.last_kw * (end - self.last_ts)
            self.completed.append((self.window_start(self.window_index),
                                   self.window_energy_kws / self.cfg.window_s))
            self.window_index += 1
            self.window_energy_kws = 0.0
            self.last_ts = end
            self.futile = False
            self.futile_count = 0

    def projection(self, now: float) -> float | None:
        """Projected average of the current window at its end, kW (None: meter stale)."""
        if self.last_ts is None or self.last_kw is None or self.window_index is None:
            return None
        if now - self.last_ts > self.cfg.meter_stale_s:
            return None
        if self.window_of(now) != self.window_index:
            self._integrate_to(now)
        assert self.window_index is not None
        start = self.window_start(self.window_index)
        end = start + self.cfg.window_s
        energy = self.window_energy_kws + self.last_kw * max(0.0, now - self.last_ts)
        return (energy + self.last_kw * max(0.0, end - now)) / self.cfg.window_s

    def window_so_far(self, now: float) -> tuple[float, float, float] | None:
        """(seconds into the current window, site energy so far in kW·s, last kW) for the
        chargers' allocator, which shares the window's budget (gateway/ev/supervisor.py);
        None while the meter is stale."""
        if self.projection(now) is None:
            return None
        assert self.window_index is not None and self.last_ts is not None
        assert self.last_kw is not None
        start = self.window_start(self.window_index)
        energy = self.window_energy_kws + self.last_kw * max(0.0, now - self.last_ts)
        return now - start, energy, self.last_kw

    def remaining_fraction(self, now: float) -> float:
        end = self.window_start(self.window_of(now) + 1)
        return max(0.0, end - now) / self.cfg.window_s

    # -- the state machine ----------------------------------------------------------

    def step(self, now: float, active: bool,
             candidates: Callable[[], list[Candidate]]) -> list[DemandAction]:
        """One control pass; returns the level changes (the engine applies levels)."""
        cfg = self.cfg
        projected = self.projection(now)
        self.projected_kw = projected
        actions: list[DemandAction] = []
        if not active:
            self.over_since = self.under_since = None
            for unit in sorted(u for u, lv in self.levels.items() if lv > 0):
                actions.append(self._set(unit, 0, now, "demand control inactive: released"))
            return actions
        if projected is None:
            return actions  # meter stale: hold what is shed, shed nothing new (alarm elsewhere)
        if projected > cfg.limit_kw:
            self.over_since = now if self.over_since is None else self.over_since
        else:
            self.over_since = None
        if projected < cfg.limit_kw - cfg.deadband_kw:
            self.under_since = now if self.under_since is None else self.under_since
        else:
            self.under_since = None
        if self.over_since is not None and now - self.over_since >= cfg.confirm_s:
            if self.last_pass is None or now - self.last_pass >= cfg.pass_interval_s:
                actions.extend(self._shed_pass(now, projected, candidates))
        elif self.under_since is not None and now - self.under_since >= cfg.confirm_s \
                and now - self.last_release >= cfg.release_interval_s:
            actions.extend(self._release_pass(now, projected, candidates))
        return actions

    def _set(self, unit: str, level: int, now: float, reason: str) -> DemandAction:
        before = self.levels.get(unit, 0)
        if level == 0:
            self.levels.pop(unit, None)
            self.since.pop(unit, None)
        else:
            self.levels[unit] = level
            self.since[unit] = now
        return DemandAction(unit, before, level, reason)

    def _shed_pass(self, now: float, projected: float,
                   candidates: Callable[[], list[Candidate]]) -> list[DemandAction]:
        cfg = self.cfg
        kw = self.last_kw if self.last_kw is not None else projected
        if self.last_pass is not None and self.kw_at_pass is not None and self.levels:
            if self.kw_at_pass - kw < cfg.futility_min_drop_kw:
                self.futile_count += 1
            else:
                self.futile_count = 0
            if self.futile_count >= cfg.futility_passes:
                self.futile = True
        if self.futile:
            return []
        pool = [c for c in candidates()
                if c.on and self.levels.get(c.unit, 0) < cfg.max_level]
        pool.sort(key=lambda c: (self.levels.get(c.unit, 0), c.shed_class, -c.margin,
                                 -c.load_kw, c.unit))
        actions = []
        for c in pool[:cfg.max_units_per_pass]:
            level = self.levels.get(c.unit, 0) + 1
            what = "off" if level > len(cfg.relief_k) else \
                f"setpoint relief +{cfg.relief_k[level - 1]:g} K"
            actions.append(self._set(c.unit, level, now,
                                     f"projected {projected:.1f} kW > limit {cfg.limit_kw:g} kW: "
                                     f"level {level} ({what}), class {c.shed_class}, "
                                     f"margin {c.margin:+.1f} K"))
        if actions:
            self.last_pass = now
            self.kw_at_pass = kw
            if self.shed_started is None:
                self.shed_started = now
        return actions

    def _release_pass(self, now: float, projected: float,
                      candidates: Callable[[], list[Candidate]]) -> list[DemandAction]:
        cfg = self.cfg
        if not self.levels:
            self.last_pass = None
            self.kw_at_pass = None
            return []
        margins = {c.unit: c for c in candidates()}
        ready = [u for u, lv in self.levels.items()
                 if lv > 0 and now - self.since.get(u, now) >= cfg.curtail_min_s]
        ready.sort(key=lambda u: (-self.levels[u],
                                  margins[u].margin if u in margins else 0.0, u))
        actions = []
        room = cfg.limit_kw - cfg.deadband_kw - projected
        frac = self.remaining_fraction(now)
        for unit in ready[:cfg.release_units]:
            c = margins.get(unit)
            load = c.load_kw if c is not None else cfg.release_estimate_kw
            added = load * frac if self.levels[unit] > len(cfg.relief_k) else load * frac * 0.3
            if added > room:
                break
            room -= added
            actions.append(self._set(unit, 0, now, f"projected {projected:.1f} kW < "
                                     f"{cfg.limit_kw - cfg.deadband_kw:g} kW: released "
                                     "(staggered)"))
        if actions:
            self.last_release = now
        if not self.levels:
            self.last_pass = None
            self.kw_at_pass = None
            self.futile_count = 0
        return actions

    def forget(self, units: set[str]) -> None:
        """Drop units no longer sheddable (rule reload)."""
        for u in list(self.levels):
            if u not in units:
                self.levels.pop(u, None)
                self.since.pop(u, None)
