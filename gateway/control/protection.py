"""Equipment protection, below every rule: minimum on and off times, a cap on starts per
hour, a delay between cooling and heating, and a random start stagger after the
gateway or a unit's communications come back.

Pure functions of a unit's switching history and the time (seconds since the
epoch, passed in). A rule never bypasses these; an operator override neither.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from gateway.control.ruleset import ProtectionConfig
from gateway.core.policy import COOLING_MODES, HEATING_MODES

NEVER = -math.inf


@dataclass(slots=True)
class UnitHistory:
    """What protection needs to know about one unit's past."""

    #: last known power (0/1); None until first seen
    power: int | None = None
    #: when it last switched (NEVER when unknown: the gateway just started)
    power_since: float = NEVER
    #: times of switch-ons within the last hour
    starts: deque[float] = field(default_factory=deque)
    #: last time it was seen or commanded running in a cooling / heating mode
    last_cool_run: float = NEVER
    last_heat_run: float = NEVER
    #: no switch-on before this (restart stagger)
    hold_starts_until: float = NEVER

    def switched(self, power: int, t: float) -> None:
        """Record a switch (ours, or one seen in a reading)."""
        if self.power is not None and power != self.power:
            self.power_since = t
            if power == 1:
                self.starts.append(t)
        self.power = power

    def running(self, power: int | None, mode: int | None, t: float) -> None:
        if power != 1 or mode is None:
            return
        if mode in COOLING_MODES:
            self.last_cool_run = t
        elif mode in HEATING_MODES:
            self.last_heat_run = t


def _at(t: float, tz: tzinfo | None) -> str:
    if tz is None:
        return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S UTC")
    return datetime.fromtimestamp(t, tz).strftime("%H:%M:%S")


def power_deferral(cfg: ProtectionConfig, h: UnitHistory, want: int, now: float,
                   tz: tzinfo | None = None) -> str | None:
    """Why switching to ``want`` must wait, or None when it may happen now."""
    if h.power is None or want == h.power:
        return None
    if want == 0:
        ready = h.power_since + cfg.min_on_s
        if now < ready:
            return f"minimum on time {cfg.min_on_s:g} s: on since {_at(h.power_since, tz)}, " \
                   f"may stop at {_at(ready, tz)}"
        return None
    ready = h.power_since + cfg.min_off_s
    if now < ready:
        return f"minimum off time {cfg.min_off_s:g} s: off since {_at(h.power_since, tz)}, " \
               f"may start at {_at(ready, tz)}"
    while h.starts and h.starts[0] <= now - 3600:
        h.starts.popleft()
    if len(h.starts) >= cfg.max_starts_per_hour:
        return f"{len(h.starts)} starts in the last hour (cap {cfg.max_starts_per_hour}); " \
               f"may start at {_at(h.starts[0] + 3600, tz)}"
    if now < h.hold_starts_until:
        return f"restart stagger after power or communications returned: may start at " \
               f"{_at(h.hold_starts_until, tz)}"
    return None


def changeover_deferral(cfg: ProtectionConfig, h: UnitHistory, want_mode: int,
                        now: float, tz: tzinfo | None = None) -> str | None:
    """Why a cool↔heat change must wait (the unit stays off meanwhile), or None."""
    if want_mode in HEATING_MODES:
        ready = h.last_cool_run + cfg.changeover_delay_s
        what = "cooling"
    elif want_mode in COOLING_MODES:
        ready = h.last_heat_run + cfg.changeover_delay_s
        what = "heating"
    else:
        return None
    if now < ready:
        return f"changeover delay {cfg.changeover_delay_s:g} s after {what}: " \
               f"may change at {_at(ready, tz)}"
    return None


def stagger_s(device: str, t: float, max_s: float) -> float:
    """A start delay in [0, max_s) that differs per unit and per event, deterministically."""
    if max_s <= 0:
        return 0.0
    digest = hashlib.blake2b(f"{device}@{t:.0f}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32 * max_s
