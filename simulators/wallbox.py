"""Pure: a Modbus AC wall box (drivers/heidelberg-energy-control.yaml) with its cars.

The box offers a car its current limit (per phase); the car (simulators/ocpp/ev.py) takes
what its curve accepts up to that, nothing below 6 A (IEC 61851). The box meters what it
delivers. Its watchdog counts the silence since the last Modbus frame addressed to it:
once longer than ``watchdog_s`` the box falls back to its fail-safe current, which it
also shows in its current-limit register, until a new limit is written. Values come out
as standard points (``values``); writes come in as standard points (``write``). Times are
the simulator clock's monotonic seconds, passed in (the cars' arrivals use the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.core.profile import Value
from gateway.core.semantics import CHARGE_STATE_CODES, POWER_CODES
from simulators.ocpp.ev import Vehicle
from simulators.ocpp.profile_stack import PHASE_VOLTAGE_V

#: below this a car stops charging (IEC 61851)
MIN_A = 6.0


@dataclass
class Wallbox:
    phases: int
    #: its DIP switches' maximum, and its current limit at power-up
    max_a: float = 16.0
    visits: list[Vehicle] = field(default_factory=list)
    limit_a: float = field(default=-1.0)
    failsafe_a: float = 0.0
    #: the register table's default (15000 ms)
    watchdog_s: float = 15.0
    standby: int = POWER_CODES["on"]
    car: Vehicle | None = None
    done: list[Vehicle] = field(default_factory=list)
    draw_kw: float = 0.0
    energy_kwh: float = 0.0
    #: the watchdog ran out: the box holds its fail-safe current until a limit is written
    in_failsafe: bool = False
    failsafes: int = 0
    last_frame: float = 0.0
    #: faults a test sets: points whose writes the box ignores (the read-back shows the
    #: old value), a state code outside IEC 61851's reported instead of its state
    ignores: set[str] = field(default_factory=set)
    odd_state: int | None = None
    _last_tick: float | None = None

    def __post_init__(self) -> None:
        if self.limit_a < 0:
            self.limit_a = self.max_a
        self.visits.sort(key=lambda v: v.arrive_s)

    def frame(self, now: float) -> None:
        """A Modbus frame reached the box: its watchdog starts again."""
        self.last_frame = now

    def write(self, name: str, value: Value) -> None:
        if isinstance(value, str) or name in self.ignores:
            return
        if name == "current_limit_a":
            self.limit_a, self.in_failsafe = float(value), False
        elif name == "failsafe_current_a":
            self.failsafe_a = float(value)
        elif name == "watchdog_timeout_s":
            self.watchdog_s = float(value)
        elif name == "standby":
            self.standby = int(value)
        self._offer()

    def tick(self, now: float) -> None:
        """Charge the car for the time since the last tick, run the watchdog, let cars
        come and go."""
        dt = 0.0 if self._last_tick is None else max(0.0, now - self._last_tick)
        self._last_tick = now
        if self.car is not None and dt > 0:
            self.energy_kwh += self.car.charge(self.draw_kw, dt)
        if self.watchdog_s > 0 and not self.in_failsafe \
                and now - self.last_frame > self.watchdog_s:
            self.in_failsafe, self.limit_a = True, self.failsafe_a
            self.failsafes += 1
        if self.car is not None and now >= self.car.leave_s:
            self.done.append(self.car)
            self.car = None
        if self.car is None and self.visits and self.visits[0].arrive_s <= now:
            car = self.visits.pop(0)
            if car.leave_s > now:
                self.car = car
        self._offer()

    @property
    def offer_kw(self) -> float:
        amps = min(self.limit_a, self.max_a)
        return 0.0 if amps < MIN_A - 1e-9 else amps * self.phases * PHASE_VOLTAGE_V / 1000.0

    def _offer(self) -> None:
        self.draw_kw = self.car.draw_kw(self.offer_kw) if self.car is not None else 0.0

    def state(self) -> str:
        """IEC 61851: A no car, B connected, C charging; 1 without an offer, 2 with."""
        offered = self.offer_kw > 0
        if self.car is None:
            return "a2" if offered else "a1"
        if self.draw_kw > 0:
            return "c2"
        return "b2" if offered else "b1"

    def values(self) -> dict[str, Value]:
        amps = self.draw_kw * 1000.0 / (self.phases * PHASE_VOLTAGE_V)
        out: dict[str, Value] = {
            "charge_state": CHARGE_STATE_CODES[self.state()] if self.odd_state is None
            else self.odd_state,
            "active_power_kw": round(self.draw_kw, 3),
            "energy_import_kwh": round(self.energy_kwh, 3),
            "current_limit_a": self.limit_a, "failsafe_current_a": self.failsafe_a,
            "watchdog_timeout_s": self.watchdog_s, "standby": self.standby,
        }
        for i, ph in enumerate(("l1", "l2", "l3")):
            live = i < self.phases
            out[f"current_{ph}_a"] = round(amps, 1) if live else 0.0
            out[f"voltage_{ph}_v"] = PHASE_VOLTAGE_V if live else 0.0
        return out
